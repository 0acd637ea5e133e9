import type { FaultKind } from "./faults.js";

export interface RequestRecord {
  /** Wall-clock ms when the request arrived. */
  readonly at: number;
  readonly method: string;
  /** URL path without the query, e.g. `/api/v4/projects/1000/jobs`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Route template without the `/api/v4` prefix, e.g. `/projects/:id/jobs`; `unknown` when none matched. */
  readonly route: string;
  /** The project the request is about, when its id or path resolves. */
  readonly projectId: number | undefined;
  /** The pipeline of `/projects/:id/pipelines/:pipeline_id/jobs`. */
  readonly pipelineId?: number | undefined;
  /** HTTP status sent; 0 when no answer was sent (reset, hang). */
  status: number;
  /** The fault served, if any. */
  fault: FaultKind | undefined;
}

export type RequestFilter =
  | ((record: RequestRecord) => boolean)
  | { readonly route?: string; readonly projectId?: number; readonly method?: string; readonly status?: number };

/** Every request the simulator received, oldest first; bounded so long runs stay in memory. */
export class RequestLog {
  readonly log: RequestRecord[] = [];

  constructor(private readonly max = 200_000) {}

  /** @internal */
  add(record: RequestRecord): void {
    this.log.push(record);
    // Drop a tenth at once: removing from the front one by one would be quadratic.
    if (this.log.length > this.max) this.log.splice(0, Math.ceil(this.max / 10));
  }

  count(filter?: RequestFilter): number {
    if (!filter) return this.log.length;
    const test = toPredicate(filter);
    let n = 0;
    for (const record of this.log) if (test(record)) n++;
    return n;
  }

  filter(filter: RequestFilter): RequestRecord[] {
    return this.log.filter(toPredicate(filter));
  }

  /** Requests per project id, for "which projects were polled how often". */
  countByProject(filter?: RequestFilter): Map<number, number> {
    const test = filter ? toPredicate(filter) : () => true;
    const result = new Map<number, number>();
    for (const record of this.log) {
      if (record.projectId === undefined || !test(record)) continue;
      result.set(record.projectId, (result.get(record.projectId) ?? 0) + 1);
    }
    return result;
  }

  clear(): void {
    this.log.length = 0;
  }
}

function toPredicate(filter: RequestFilter): (record: RequestRecord) => boolean {
  if (typeof filter === "function") return filter;
  return (r) =>
    (filter.route === undefined || r.route === filter.route) &&
    (filter.projectId === undefined || r.projectId === filter.projectId) &&
    (filter.method === undefined || r.method === filter.method) &&
    (filter.status === undefined || r.status === filter.status);
}
