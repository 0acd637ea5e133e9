/** How long to wait after consecutive failures: exponential growth up to a cap. */
export interface BackoffPolicy {
  /** The wait after the first failure. */
  readonly initialMs: number;
  /** No wait is longer than this. */
  readonly maxMs: number;
  /** Growth per further failure; 2 unless told. */
  readonly factor?: number;
  /**
   * Share of the wait drawn at random, from 0 (none, the default) to 1: with 0.2 the wait lies
   * between 80 % and 100 % of the exponential one, so clients that failed together spread out.
   */
  readonly jitter?: number;
  /** Source of the jitter, in [0, 1); `Math.random` unless told (a test passes its own). */
  readonly random?: () => number;
}

/** The wait after `failures` consecutive failures (0 after none). */
export function backoffDelayMs(failures: number, policy: BackoffPolicy): number {
  if (failures <= 0) return 0;
  const factor = policy.factor ?? 2;
  const capped = Math.min(policy.initialMs * factor ** (failures - 1), policy.maxMs);
  const jitter = Math.min(Math.max(policy.jitter ?? 0, 0), 1);
  if (jitter === 0) return capped;
  const random = policy.random ?? Math.random;
  return capped * (1 - jitter * random());
}

/** The step of a backoff that starts at `initialMs` and doubles up to `maxMs`. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/**
 * The same backoff with equal jitter, counted from attempt 0 (the first retry): the wait lies
 * between half the step and the whole step, so retries still back off while peers that failed
 * together do not retry together.
 */
export function backoffMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return backoffDelayMs(Math.max(attempt, 0) + 1, { ...options, jitter: 0.5, random: () => 1 - random() });
}
