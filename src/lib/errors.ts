/** An error's message for a log line; whatever else was thrown, as a string. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
