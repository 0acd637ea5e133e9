import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { KubeFaults, type ServedFault } from "./faults.js";
import { ClusterObjects } from "./objects.js";
import { filter, list, matchRoute, status, tooLarge } from "./routes.js";
import { WatchStream, type KubeRequestRecord } from "./watch-stream.js";
import { withKind, type KubeWorld, type WatchEvent } from "./world.js";

export { KubeFaults, type FaultScope, type ServedFault } from "./faults.js";
export type { KubeRequestRecord, WatchEndCause } from "./watch-stream.js";

export interface KubeSimulator {
  readonly url: string;
  readonly faults: KubeFaults;
  /** StatefulSets and Leases. */
  readonly objects: ClusterObjects;
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
export async function startKubeSimulator(options: { world: KubeWorld; host?: string; port?: number; token?: string; bookmarkIntervalMs?: number; objects?: ClusterObjects }): Promise<KubeSimulator> {
  const { world } = options;
  const clusterObjects = options.objects ?? new ClusterObjects();
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
    if (url.pathname.startsWith("/apis/")) {
      void clusterObjects.handle(request, url.pathname).then((answer) => (answer ? respond(answer.status, answer.body) : respond(404, status(404, "NotFound", "the server could not find the requested resource"))));
      return;
    }
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
    objects: clusterObjects,
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
