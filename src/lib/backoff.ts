export interface BackoffOptions {
  /** The step of the first retry. */
  readonly initialMs: number;
  /** No step grows beyond this. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with equal jitter: the step doubles per attempt (attempt 0 is the first
 * retry) up to `maxMs`, and the wait is drawn between half the step and the whole step, so that
 * retries still back off while peers that failed together do not retry together.
 */
export function backoffMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return step / 2 + (random() * step) / 2;
}
