/**
 * Input the exporter refused: a list entry that fails its schema, a hook field outside what is
 * plausible, a watch object that cannot be decoded. Nothing is dropped silently: every rejection
 * is counted (`gitlab_ci_exporter_invalid_objects_total{source, reason}`) and logged, at a
 * bounded rate so that a peer sending garbage cannot flood the logs.
 */

/** Where the input came from: the `source` label. A fixed set, never taken from the input. */
export type RejectionSource = "gitlab_api" | "gitlab_webhook" | "gitlab_clock" | "kube_pods" | "kube_nodes";

export interface Rejections {
  /**
   * @param reason a short snake_case word chosen by the code (`schema`, `future_timestamp`,
   *   `negative_duration`, ...): the `reason` label, so never text from the input.
   * @param detail logged with the line (ids, the field, a value cut short); never counted.
   */
  reject(source: RejectionSource, reason: string, detail?: Readonly<Record<string, unknown>>): void;
}

/** For tests and tools that do not care. */
export const ignoreRejections: Rejections = { reject() {} };

export interface RejectionLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RejectionReporterOptions {
  /** Log lines per source and reason per minute; the rest are only counted (and summed in the next line). */
  readonly logsPerMinute?: number;
  readonly now?: () => number;
}

/** Counts every rejection and logs the first few per source and reason each minute. */
export function rejectionReporter(count: (source: RejectionSource, reason: string) => void, log: RejectionLog, options: RejectionReporterOptions = {}): Rejections {
  const perMinute = options.logsPerMinute ?? 10;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { startMs: number; logged: number; suppressed: number }>();
  return {
    reject(source, reason, detail) {
      count(source, reason);
      const key = `${source}\u0000${reason}`;
      const at = now();
      let window = windows.get(key);
      if (!window || at - window.startMs >= 60_000) {
        const suppressed = window?.suppressed ?? 0;
        window = { startMs: at, logged: 0, suppressed: 0 };
        windows.set(key, window);
        if (suppressed > 0) log.warn({ source, reason, suppressed }, "more input rejected in the last minute than was logged");
      }
      if (window.logged < perMinute) {
        window.logged++;
        log.warn({ source, reason, ...detail }, "input rejected");
      } else {
        window.suppressed++;
      }
    },
  };
}
