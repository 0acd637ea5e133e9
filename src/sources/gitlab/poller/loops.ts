import type { Logger } from "pino";
import { failureLog } from "../failure-log.js";
import { sleep } from "../../../lib/sleep.js";

export interface RepeatOptions {
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly log: Logger;
  /** Run at once, or only after the current turn of the event loop. */
  readonly immediate: boolean;
}

/**
 * Runs `work` until the signal aborts, each run `delayMs()` after the start of the previous one
 * (not after its end), so a slow run does not stretch the interval. A failure is logged and
 * the next run comes as usual.
 */
export async function repeat(name: string, work: () => Promise<void>, delayMs: () => number, options: RepeatOptions): Promise<void> {
  const { signal, now, log } = options;
  if (!options.immediate) await sleep(0, signal).catch(() => undefined);
  while (!signal.aborted) {
    const started = now();
    try {
      await work();
    } catch (error) {
      if (signal.aborted) break;
      const { msg, fields } = failureLog(error, { task: name });
      log.warn(fields, msg);
    }
    // Every interval from the start of the last round, not interval plus the round's duration.
    await sleep(Math.max(0, delayMs() - (now() - started)), signal).catch(() => undefined);
  }
}

export interface PacedStarts {
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Work started and not yet ended; at most `maxConcurrent` at once. */
  readonly inFlight: Set<Promise<void>>;
  readonly maxConcurrent: number;
  /** Starts the next piece of work, if any is due. */
  readonly startNext: () => Promise<void> | undefined;
  /** The wait before the next start, given whether this turn started one. */
  readonly periodMs: (started: boolean) => number;
}

/**
 * Starts work on a fixed schedule rather than one piece after another, so the rate holds
 * whatever each piece takes, until the signal aborts.
 */
export async function startPaced(pace: PacedStarts): Promise<void> {
  const { signal, now, inFlight } = pace;
  let nextAt = now();
  while (!signal.aborted) {
    if (inFlight.size >= pace.maxConcurrent) {
      await Promise.race(inFlight);
      continue;
    }
    const started = pace.startNext();
    if (started) {
      const work = started.finally(() => inFlight.delete(work));
      inFlight.add(work);
    }
    // Absolute schedule: timer and event-loop delays do not pile up into a lower rate, and a
    // late loop catches up by at most a second.
    const period = pace.periodMs(started !== undefined);
    const current = now();
    nextAt = Math.max(nextAt + period, current - 1000);
    await sleep(Math.max(0, nextAt - current), signal).catch(() => undefined);
  }
}
