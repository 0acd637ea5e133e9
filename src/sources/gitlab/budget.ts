import { sleep } from "../../lib/sleep.js";

/** Re-exported for the transport, which waits with it between attempts. */
export { sleep };

/**
 * Spends the GitLab request budget: at most `ratePerSecond` request starts per second, evenly
 * spaced (no bursts, so a poll cycle over many projects never spikes above the documented rate),
 * at most `maxConcurrent` in flight, and a shared pause that every caller honours after GitLab
 * said `Retry-After` or ran low on `RateLimit-Remaining`.
 */
export class RequestBudget {
  private nextStartMs = 0;
  private pausedUntilMs = 0;
  private inFlight = 0;
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
          this.nextStartMs = now + this.intervalMs;
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

  /** Requests that may be in flight at once: each spends quota even after a pause was decided. */
  get maxInFlight(): number {
    return this.maxConcurrent;
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
