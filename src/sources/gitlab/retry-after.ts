/** The longest wait GitLab is obeyed for, whether it asks with `Retry-After` or a quota reset. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * The wait a 429's `Retry-After` asks for (seconds, or an HTTP date), at most 15 minutes;
 * undefined when it asks for none that can be used (absent, garbled, zero, negative or a date
 * already past): the caller backs off on its own then rather than retrying at once.
 */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - nowMs;
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
