import { parseMetrics, type Sample } from "../../src/lib/prom-text.js";

export { parseMetrics, sum, type Sample } from "../../src/lib/prom-text.js";

export async function scrape(baseUrl: string): Promise<Sample[]> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Samples of one family keyed by the chosen labels joined with "|". */
export function byLabels(samples: readonly Sample[], name: string, keys: readonly string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const sample of samples) {
    if (sample.name !== name) continue;
    result.set(keys.map((k) => sample.labels[k] ?? "").join("|"), sample.value);
  }
  return result;
}

/** Polls `check` until it stops throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
