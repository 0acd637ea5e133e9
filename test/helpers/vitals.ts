import { readFile } from "node:fs/promises";

/** What a process went through while it was watched. */
export interface VitalSigns {
  /** Highest resident set seen: the kernel's own high-water mark (VmHWM) or a sample, whichever is higher. */
  readonly peakRssBytes: number;
  /** Slowest /healthz answer; a probe that failed or timed out counts as its time until it gave up. */
  readonly slowestHealthzMs: number;
  /** /healthz probes that got no 200 (refused, reset, timed out, another status). */
  readonly failedProbes: number;
  /** Why each failed probe failed (status, or the error's code), for the assertion message. */
  readonly probeFailures: readonly string[];
  readonly probes: number;
  /** Whether the process was gone (no /proc entry) at some sample. */
  readonly vanished: boolean;
}

const RSS_EVERY_MS = 100;
const HEALTHZ_EVERY_MS = 200;
/** A probe gives up after this long: twice the 1 s the exporter must answer within, so a slow answer is measured, not cut. */
const PROBE_TIMEOUT_MS = 2000;

/** Reads VmRSS and VmHWM (bytes) of a process from /proc, or null when it is gone. */
export async function memoryOf(pid: number): Promise<{ rss: number; hwm: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
  } catch {
    return null;
  }
}

/**
 * Samples a process's memory every 100 ms and probes its /healthz every 200 ms until stopped.
 * Probes run one at a time, so a hung exporter is measured once per probe timeout rather than
 * buried under a pile of concurrent requests.
 */
export function watchVitals(pid: number, baseUrl: string): { stop(): Promise<VitalSigns> } {
  let peakRssBytes = 0;
  let slowestHealthzMs = 0;
  let failedProbes = 0;
  let probes = 0;
  let vanished = false;
  let stopped = false;

  const sampleMemory = async () => {
    const memory = await memoryOf(pid);
    if (memory === null) vanished = true;
    else peakRssBytes = Math.max(peakRssBytes, memory.rss, memory.hwm);
  };
  const memoryTimer = setInterval(() => void sampleMemory(), RSS_EVERY_MS);

  const probeFailures: string[] = [];
  const probeLoop = (async () => {
    while (!stopped) {
      const startedAt = performance.now();
      const ok = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then(
        async (response) => {
          await response.arrayBuffer();
          return response.status === 200 ? true : `status ${response.status}`;
        },
        (error: { name?: string; cause?: { code?: string; message?: string } }) => error.cause?.code ?? error.cause?.message ?? error.name ?? "error",
      );
      probes++;
      slowestHealthzMs = Math.max(slowestHealthzMs, performance.now() - startedAt);
      if (ok !== true) {
        failedProbes++;
        probeFailures.push(`${ok} at ${Math.round(startedAt)} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, HEALTHZ_EVERY_MS));
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearInterval(memoryTimer);
      await sampleMemory();
      await probeLoop;
      return { peakRssBytes, slowestHealthzMs, failedProbes, probeFailures, probes, vanished };
    },
  };
}

export const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
