import { sleep } from "../../lib/sleep.js";

/** Re-exported for the transport, which waits with it between attempts. */
export { sleep };

/** The slowest the budget runs after 429s in a row: 1/16 of the configured rate. */
const MIN_RATE_SHARE = 1 / 16;
/** From the slowest back to the configured rate, linearly: half of it in 2.5 minutes. */
const RATE_RECOVERY_MS = 5 * 60_000;

/**
 * Spends the GitLab request budget: at most `ratePerSecond` request starts per second, evenly
 * spaced (no bursts, so a poll cycle over many projects never spikes above the documented rate),
 * at most `maxConcurrent` in flight, and a shared pause that every caller honours after GitLab
 * said `Retry-After` or ran low on `RateLimit-Remaining`. After a 429 the rate is halved
 * (`slowDown`) and grows back over minutes, so the exporter does not run into the same limit
 * every time its pause ends.
 */
export class RequestBudget {
  private nextStartMs = 0;
  private pausedUntilMs = 0;
  private inFlight = 0;
  /** Share of the configured rate after the last slow-down, and when that was. */
  private slowedShare = 1;
  private slowedAtMs = -Infinity;
  private readonly waiting: Array<() => void> = [];
  private readonly intervalMs: number;

  constructor(
    ratePerSecond: number,
    private readonly maxConcurrent: number,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Waits for a slot; the returned function gives it back. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.concurrencySlot(signal);
    try {
      for (;;) {
        const now = this.now();
        const startAt = Math.max(now, this.nextStartMs, this.pausedUntilMs);
        if (startAt <= now) {
          this.nextStartMs = now + this.intervalMs / this.share(now);
          break;
        }
        // Reserve nothing while sleeping: a pause set meanwhile must still apply when we wake.
        await sleep(startAt - now, signal);
      }
    } catch (error) {
      this.release();
      throw error;
    }
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.release();
      }
    };
  }

  /** Holds every request until the given time (GitLab's Retry-After or RateLimit-Reset). */
  pauseUntil(untilMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs);
  }

  get pausedUntil(): number {
    return this.pausedUntilMs;
  }

  /**
   * GitLab refused a request for its rate: half the current rate, at least 1/16 of the
   * configured one; it then grows back linearly, by the configured rate every five minutes.
   */
  slowDown(): void {
    const now = this.now();
    this.slowedShare = Math.max(MIN_RATE_SHARE, this.share(now) / 2);
    this.slowedAtMs = now;
  }

  /** Request starts a second allowed now. */
  get ratePerSecond(): number {
    return (1000 / this.intervalMs) * this.share(this.now());
  }

  /** Requests that may be in flight at once: each spends quota even after a pause was decided. */
  get maxInFlight(): number {
    return this.maxConcurrent;
  }

  private share(now: number): number {
    return Math.min(1, this.slowedShare + (now - this.slowedAtMs) / RATE_RECOVERY_MS);
  }

  private async concurrencySlot(signal?: AbortSignal): Promise<void> {
    if (this.inFlight < this.maxConcurrent) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }
}
