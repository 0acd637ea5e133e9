import type { FaultScope, WatchStream } from "./watch-stream.js";
import { status } from "./routes.js";

/**
 * What the simulated API server served that a client has to recover from, by kind: streams cut,
 * stalled or hung; ERROR events; refused lists and watches; and the answers to a watch or list
 * from a resourceVersion the server no longer holds (410 Expired) or does not hold yet (after an
 * etcd restore: a watch kept silent, or 504 Too large resource version).
 */
export type ServedFault =
  | "stream dropped"
  | "stream ended early"
  | "stream stalled"
  | "stream hung"
  | "ERROR event"
  | "list failed"
  | "watch refused"
  | "forbidden"
  | "HTTP 410"
  | "410 Expired"
  | "version ahead"
  | "504 Too large resource version";

/** Switchable misbehaviour of the simulated API server, for recovery tests, and a tally of what it served. */
export type { FaultScope } from "./watch-stream.js";

export class KubeFaults {
  private failingLists: { status: number; remaining: number } | null = null;
  private readonly expiries: FaultScope[] = [];
  private goneOnWatch = false;
  private failingWatches: number | null = null;
  private tooLargeAhead = false;
  private readonly forbidden = new Set<string>();
  private readonly tally = new Map<ServedFault, number>();
  stalled = false;
  /** Stalled streams also outlive their `timeoutSeconds`. */
  hung = false;
  constructor(private readonly streams: Set<WatchStream>) {}

  /** Faults served so far, of every kind. */
  get served(): number {
    let total = 0;
    for (const count of this.tally.values()) total += count;
    return total;
  }

  servedOf(kind: ServedFault): number {
    return this.tally.get(kind) ?? 0;
  }

  /** Faults served so far, by kind, in the order each kind was first served. */
  servedByKind(): ReadonlyMap<ServedFault, number> {
    return new Map(this.tally);
  }

  noteServed(kind: ServedFault): void {
    this.tally.set(kind, this.servedOf(kind) + 1);
  }

  /**
   * Drops the connection of every open watch stream (in scope) now, without ending the chunked
   * response, as an API server restart or a reset connection does: the client sees an error.
   */
  dropStreams(scope: FaultScope = {}): void {
    for (const stream of this.streams) {
      if (!stream.in(scope)) continue;
      stream.drop();
      this.noteServed("stream dropped");
    }
  }

  /**
   * Ends every open watch stream (in scope) cleanly now, long before its `timeoutSeconds`, as a
   * load balancer or proxy ending idle streams does, or an API server shutting down gracefully.
   */
  endStreams(scope: FaultScope = {}): void {
    for (const stream of this.streams) {
      if (!stream.in(scope)) continue;
      stream.end("server");
      this.noteServed("stream ended early");
    }
  }

  /**
   * Sends an ERROR event carrying a Status with this code into every open watch stream, then ends
   * them, as an API server does when it cannot go on serving a watch (500 InternalError, 429,
   * 410 Expired after a compaction). With `keepOpen` the streams go on (bookmarks included), so
   * a client that ignored the event would not notice anything.
   */
  errorEvent(code: number, reason: string, options: { message?: string; keepOpen?: boolean } = {}): void {
    const message = options.message ?? 'an error on the server ("simulated") has prevented the request from succeeding';
    for (const stream of [...this.streams]) {
      stream.send({ type: "ERROR", object: status(code, reason, message) });
      this.noteServed("ERROR event");
      if (!options.keepOpen) stream.end();
    }
  }

  /** Lists answer with this status (a Status body) for the next `count` lists, or until cleared. */
  failLists(options: { status: number; count?: number }): void {
    this.failingLists = { status: options.status, remaining: options.count ?? Infinity };
  }

  /**
   * Streams stay open but carry nothing, not even bookmarks, until `resume()`; the server still
   * ends each at its `timeoutSeconds`.
   */
  stallWatches(): void {
    this.stalled = true;
  }

  /**
   * Streams stay open and silent past their `timeoutSeconds`, as behind a broken proxy that keeps
   * the client's connection while the server's side is gone; until `resume()`.
   */
  hangWatches(): void {
    this.stalled = true;
    this.hung = true;
  }

  resume(): void {
    this.stalled = false;
    this.hung = false;
    for (const stream of [...this.streams]) stream.flushStalled();
  }

  /** Lists and watches of paths starting so answer 403, as without RBAC on a namespace; until cleared. */
  forbid(path: string): void {
    this.forbidden.add(path);
  }

  /** The next watch (in scope) gets the 410 Expired ERROR event whatever version it asks for; once a call. */
  expireNextWatch(scope: FaultScope = {}): void {
    this.expiries.push(scope);
  }

  /** Watches are refused with this status (a Status body), as by an API server that is down, until cleared. */
  failWatches(options: { status: number }): void {
    this.failingWatches = options.status;
  }

  /** Watches are refused with an HTTP 410 Status (older API servers), until cleared. */
  httpGoneOnWatch(): void {
    this.goneOnWatch = true;
  }

  /**
   * A watch from a resourceVersion ahead of the server's gets the 504 Too large resource version
   * ERROR event at once, as kube-apiserver answers a watch that asks for its initial events
   * (`sendInitialEvents=true`), instead of being kept open and silent as it keeps a plain watch;
   * until cleared.
   */
  tooLargeOnWatchAhead(): void {
    this.tooLargeAhead = true;
  }

  clear(): void {
    this.failingLists = null;
    this.expiries.splice(0);
    this.goneOnWatch = false;
    this.failingWatches = null;
    this.tooLargeAhead = false;
    this.forbidden.clear();
    this.resume();
  }

  isForbidden(path: string): boolean {
    const forbidden = [...this.forbidden].some((prefix) => path.startsWith(prefix));
    if (forbidden) this.noteServed("forbidden");
    return forbidden;
  }

  takeListFailure(): number | null {
    if (!this.failingLists || this.failingLists.remaining <= 0) return null;
    this.failingLists.remaining--;
    this.noteServed("list failed");
    return this.failingLists.status;
  }

  takeWatchFailure(): number | null {
    if (this.failingWatches !== null) this.noteServed("watch refused");
    return this.failingWatches;
  }

  takeGone(): boolean {
    if (this.goneOnWatch) this.noteServed("HTTP 410");
    return this.goneOnWatch;
  }

  /** Whether a watch of this path is to expire (counted by whoever serves the expiry). */
  takeExpiry(path: string): boolean {
    const index = this.expiries.findIndex((scope) => scope.path === undefined || path.startsWith(scope.path));
    if (index < 0) return false;
    this.expiries.splice(index, 1);
    return true;
  }

  /** Whether a watch from a version ahead is to be refused (counted by whoever serves the refusal). */
  takeTooLargeAhead(): boolean {
    return this.tooLargeAhead;
  }
}
