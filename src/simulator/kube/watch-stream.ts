import type { ServerResponse } from "node:http";

export interface KubeRequestRecord {
  readonly at: number;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly kind: "list" | "watch" | "get" | "other";
  status: number;
  /** For a watch: how its stream ended, once it has. */
  ended?: { readonly at: number; readonly by: WatchEndCause };
}

/**
 * Who ended a watch stream: the server at the requested `timeoutSeconds`, the server early (a
 * clean end before the timeout, or after an ERROR event), a dropped connection, or the client.
 */
export type WatchEndCause = "timeout" | "server" | "dropped" | "client";

/** Which watch streams or requests a fault applies to: all, or those whose path starts so. */

/** Which streams a fault applies to: those whose path starts with `path`, or all. */
export interface FaultScope {
  readonly path?: string;
}

/** What a stream asks of the fault switches while it writes. */
export interface StreamFaults {
  readonly stalled: boolean;
  readonly hung: boolean;
  noteServed(kind: "stream stalled" | "stream hung"): void;
}

/** One open watch: events matching its resource and selectors, one JSON document per line. */
export class WatchStream {
  private readonly pending: string[] = [];
  private closed = false;
  private overdue = false;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly record: KubeRequestRecord,
    private readonly faults: () => StreamFaults,
    private readonly onEnd: () => void,
  ) {}

  /**
   * `after`: the version the stream starts after. A bookmark never goes below it, as kube-apiserver
   * sends none to a watch from a version it does not hold yet.
   */
  start(options: { kind: string; bookmarks: boolean; bookmarkIntervalMs: number; timeoutSeconds: number | null; after: number; currentVersion: () => number }): void {
    this.response.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked", "cache-control": "no-cache, private" });
    this.response.flushHeaders();
    if (options.bookmarks) {
      this.bookmarkTimer = setInterval(() => {
        const version = options.currentVersion();
        if (version >= options.after) this.send({ type: "BOOKMARK", object: { kind: options.kind, apiVersion: "v1", metadata: { resourceVersion: String(version) } } });
      }, options.bookmarkIntervalMs);
    }
    if (options.timeoutSeconds !== null) this.timeoutTimer = setTimeout(() => this.timedOut(), options.timeoutSeconds * 1000);
    this.response.on("close", () => this.end("client"));
  }

  in(scope: FaultScope): boolean {
    return scope.path === undefined || this.record.path.startsWith(scope.path);
  }

  send(event: unknown): void {
    if (this.closed) return;
    const line = `${JSON.stringify(event)}\n`;
    const faults = this.faults();
    if (!faults.stalled) return void this.response.write(line);
    // Counted once a stall, when the stream first holds something back.
    if (this.pending.length === 0) faults.noteServed(faults.hung ? "stream hung" : "stream stalled");
    this.pending.push(line);
  }

  flushStalled(): void {
    if (this.closed) return;
    for (const line of this.pending.splice(0)) this.response.write(line);
    if (this.overdue) this.end("timeout");
  }

  /** A clean end of the chunked response. */
  end(by: WatchEndCause = "server"): void {
    if (this.closed) return;
    this.finish(by);
    this.response.end();
  }

  /** The connection goes without the response's last chunk. */
  drop(): void {
    if (this.closed) return;
    this.finish("dropped");
    this.response.socket?.destroy();
  }

  private timedOut(): void {
    if (this.faults().hung) this.overdue = true;
    else this.end("timeout");
  }

  private finish(by: WatchEndCause): void {
    this.closed = true;
    this.record.ended = { at: Date.now(), by };
    clearInterval(this.bookmarkTimer);
    clearTimeout(this.timeoutTimer);
    this.onEnd();
  }
}
