import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { withKind, type KubeWorld, type Resource, type WatchEvent } from "./world.js";

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
export interface FaultScope {
  readonly path?: string;
}

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

/** One open watch: events matching its resource and selectors, one JSON document per line. */
class WatchStream {
  private readonly pending: string[] = [];
  private closed = false;
  private overdue = false;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly record: KubeRequestRecord,
    private readonly faults: () => KubeFaults,
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

export interface KubeSimulator {
  readonly url: string;
  readonly faults: KubeFaults;
  readonly requests: { readonly log: KubeRequestRecord[]; count(filter?: (r: KubeRequestRecord) => boolean): number; clear(): void };
  /** A kubeconfig for client-node pointing at this server. */
  kubeconfig(): string;
  close(): Promise<void>;
}

/**
 * A Kubernetes API server for pods and nodes: list (with limit/continue), watch streams (with
 * resourceVersion, bookmarks, timeoutSeconds), label and field selectors, bearer token, and fault
 * switches. A version older than the history is answered 410 Expired; one ahead of the current
 * (after an etcd restore) 504 Too large resource version on a list, and on a watch an open stream
 * that stays silent until the revision passes it. Enough of the real wire format for
 * client-node's list and Watch.
 */
export async function startKubeSimulator(options: { world: KubeWorld; host?: string; port?: number; token?: string; bookmarkIntervalMs?: number }): Promise<KubeSimulator> {
  const { world } = options;
  const streams = new Set<WatchStream>();
  const faults = new KubeFaults(streams);
  const log: KubeRequestRecord[] = [];
  const sockets = new Set<Socket>();
  const watchers = new Map<WatchStream, (event: WatchEvent) => void>();

  world.onChange((event) => {
    for (const deliver of watchers.values()) deliver(event);
  });

  const server = createServer((request, response) => handle(request, response));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://localhost");
    const watch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
    const route = matchRoute(url.pathname);
    const record: KubeRequestRecord = { at: Date.now(), path: url.pathname, query: url.searchParams, kind: route ? (route.name ? "get" : watch ? "watch" : "list") : "other", status: 0 };
    if (log.length > 50_000) log.splice(0, 10_000);
    log.push(record);
    const respond = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      const text = JSON.stringify(body);
      response.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
      response.end(text);
    };
    if (options.token && request.headers.authorization !== `Bearer ${options.token}`) return respond(401, status(401, "Unauthorized", "Unauthorized"));
    if (url.pathname === "/version") return respond(200, { major: "1", minor: "31", gitVersion: "v1.31.0-sim" });
    if (!route) return respond(404, status(404, "NotFound", "the server could not find the requested resource"));

    if (faults.isForbidden(url.pathname)) return respond(403, status(403, "Forbidden", `${route.resource} is forbidden: User "system:serviceaccount:monitoring:gitlab-ci-k8s-exporter" cannot ${watch ? "watch" : "list"} resource "${route.resource}"`));
    const objects = () => filter<V1Pod | V1Node>(route.resource === "pods" ? world.pods() : world.nodes(), route.namespace, url.searchParams);
    if (route.name) {
      const found = route.resource === "pods" ? world.pod(route.namespace ?? "", route.name) : world.node(route.name);
      if (!found) return respond(404, status(404, "NotFound", `${route.resource} "${route.name}" not found`));
      return respond(200, withKind(route.resource, found));
    }
    const requested = url.searchParams.get("resourceVersion");
    // "" and "0" ask for no particular version: a list from the cache, a watch with the current state first.
    const since = requested === null || requested === "" || requested === "0" ? null : Number(requested);
    if (!watch) {
      const failure = faults.takeListFailure();
      if (failure !== null) return respond(failure, status(failure, "InternalError", "an error on the server (\"simulated\") has prevented the request from succeeding"));
      if (since !== null && since > world.currentResourceVersion()) {
        // kube-apiserver waits up to 3 s for its cache to reach the version first; this one answers at once.
        faults.noteServed("504 Too large resource version");
        return respond(504, tooLarge(since, world.currentResourceVersion()), { "retry-after": "1" });
      }
      return respond(200, list(route.resource, objects(), url.searchParams, world.currentResourceVersion()));
    }

    const watchFailure = faults.takeWatchFailure();
    if (watchFailure !== null) return respond(watchFailure, status(watchFailure, "InternalError", "an error on the server (\"simulated\") has prevented the request from succeeding"));
    if (faults.takeGone()) return respond(410, status(410, "Gone", "too old resource version"));
    record.status = 200;
    const stream = new WatchStream(response, record, () => faults, () => {
      streams.delete(stream);
      watchers.delete(stream);
    });
    streams.add(stream);
    const timeout = url.searchParams.get("timeoutSeconds");
    const after = since ?? world.currentResourceVersion();
    stream.start({
      kind: route.resource === "pods" ? "Pod" : "Node",
      bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
      timeoutSeconds: timeout === null ? null : Number(timeout),
      after,
      currentVersion: () => world.currentResourceVersion(),
    });
    const matches = (object: V1Pod | V1Node) => filter([object], route.namespace, url.searchParams).length === 1;
    // The API server reports what it cannot serve inside a 200 stream, then ends it.
    const refuse = (kind: ServedFault, body: unknown) => {
      faults.noteServed(kind);
      stream.send({ type: "ERROR", object: body });
      stream.end("server");
    };
    const expire = () => refuse("410 Expired", status(410, "Expired", `too old resource version: ${requested ?? "0"} (${world.currentResourceVersion()})`));
    if (faults.takeExpiry(url.pathname)) return expire();
    if (since === null) {
      for (const object of objects()) stream.send({ type: "ADDED", object: withKind(route.resource, object) });
    } else if (since > world.currentResourceVersion()) {
      // A version the server does not hold yet (etcd restored from a snapshot): kube-apiserver keeps
      // a plain watch open and sends nothing, bookmarks included, until its revision passes it.
      if (faults.takeTooLargeAhead()) return refuse("504 Too large resource version", tooLarge(since, world.currentResourceVersion()));
      faults.noteServed("version ahead");
    } else {
      const changes = Number.isFinite(since) ? world.changesSince(since, route.resource) : null;
      if (changes === null) return expire();
      for (const event of changes) if (matches(event.object)) stream.send({ type: event.type, object: event.object });
    }
    watchers.set(stream, (event) => {
      if (event.resource === route.resource && event.resourceVersion > after && matches(event.object)) stream.send({ type: event.type, object: event.object });
    });
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    faults,
    requests: { log, count: (f = () => true) => log.filter(f).length, clear: () => void log.splice(0) },
    kubeconfig: () =>
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: simulator",
        "  cluster:",
        `    server: ${url}`,
        "    insecure-skip-tls-verify: true",
        "contexts:",
        "- name: simulator",
        "  context:",
        "    cluster: simulator",
        "    user: simulator",
        "current-context: simulator",
        "users:",
        "- name: simulator",
        "  user:",
        `    token: ${options.token ?? "simulator-token"}`,
        "",
      ].join("\n"),
    async close() {
      for (const stream of [...streams]) stream.end("server");
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Route {
  readonly resource: Resource;
  readonly namespace: string | null;
  readonly name: string | null;
}

function matchRoute(path: string): Route | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  if (parts[0] !== "api" || parts[1] !== "v1") return undefined;
  const rest = parts.slice(2).map(decodeURIComponent);
  if (rest[0] === "pods" && rest.length === 1) return { resource: "pods", namespace: null, name: null };
  if (rest[0] === "nodes" && rest.length <= 2) return { resource: "nodes", namespace: null, name: rest[1] ?? null };
  if (rest[0] === "namespaces" && rest[2] === "pods" && rest.length <= 4) return { resource: "pods", namespace: rest[1]!, name: rest[3] ?? null };
  return undefined;
}

function list(resource: Resource, objects: Array<V1Pod | V1Node>, query: URLSearchParams, resourceVersion: number): unknown {
  const limit = Number(query.get("limit") ?? 0);
  const offset = Number(query.get("continue") ? Buffer.from(query.get("continue")!, "base64").toString("utf8") : 0);
  const page = limit > 0 ? objects.slice(offset, offset + limit) : objects.slice(offset);
  const more = limit > 0 && offset + limit < objects.length;
  return {
    kind: resource === "pods" ? "PodList" : "NodeList",
    apiVersion: "v1",
    metadata: { resourceVersion: String(resourceVersion), ...(more ? { continue: Buffer.from(String(offset + limit)).toString("base64"), remainingItemCount: objects.length - offset - limit } : {}) },
    items: page,
  };
}

/** Equality and existence label selectors, and spec.nodeName / metadata.namespace field selectors. */
function filter<T extends V1Pod | V1Node>(objects: T[], namespace: string | null, query: URLSearchParams): T[] {
  const labelSelector = query.get("labelSelector");
  const fieldSelector = query.get("fieldSelector");
  return objects.filter((object) => {
    if (namespace !== null && object.metadata?.namespace !== namespace) return false;
    const labels = object.metadata?.labels ?? {};
    for (const term of labelSelector ? labelSelector.split(",") : []) {
      const [key, value] = term.split(/!=|==|=/);
      if (term.includes("!=")) {
        if (labels[key!] === value) return false;
      } else if (value === undefined ? !(key! in labels) : labels[key!] !== value) return false;
    }
    for (const term of fieldSelector ? fieldSelector.split(",") : []) {
      const [key, value] = term.split("=");
      const actual = key === "spec.nodeName" ? (object as V1Pod).spec?.nodeName : key === "metadata.namespace" ? object.metadata?.namespace : key === "metadata.name" ? object.metadata?.name : undefined;
      if ((actual ?? "") !== value) return false;
    }
    return true;
  });
}

function status(code: number, reason: string, message: string, details?: unknown): unknown {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

/** kube-apiserver's answer to a version ahead of its own: a Timeout naming the cause, with a retry hint. */
function tooLarge(requested: number, current: number): unknown {
  return status(504, "Timeout", `Timeout: Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
}
