import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { lister, watchOpener } from "../../../../src/sources/kube/client.js";
import { Informer } from "../../../../src/sources/kube/informer.js";
import { isGone, type WatchCallbacks } from "../../../../src/sources/kube/list-watch.js";
import { ignoreRejections } from "../../../../src/lib/rejections.js";
import { eventually } from "../../../helpers/prom.js";

/** A loopback API server whose answers each test writes. */
type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void;

const servers: Server[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: Handler): Promise<{ origin: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((request, response) => {
    requests.push(request);
    handler(request, response, new URL(request.url ?? "/", "http://localhost"));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function kubeConfigFor(origin: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "loopback", server: origin, skipTLSVerify: true }],
    users: [{ name: "exporter", token: "secret-token" }],
    contexts: [{ name: "loopback", cluster: "loopback", user: "exporter" }],
    currentContext: "loopback",
  });
  return kc;
}

/** Records what a watch calls back, and resolves when it is done. */
function recorder() {
  const seen: Array<{ type: string; object: unknown }> = [];
  let opened = false;
  let resolveDone: (error: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => (resolveDone = resolve));
  const callbacks: WatchCallbacks = {
    opened: () => void (opened = true),
    event: (type, object) => void seen.push({ type, object }),
    done: (error) => resolveDone(error),
  };
  return { callbacks, seen, done, opened: () => opened };
}

const pod = (name: string, resourceVersion: string) => ({ metadata: { name, uid: `uid-${name}`, resourceVersion } });
const line = (type: string, object: object) => `${JSON.stringify({ type, object })}\n`;
const MiB = 1024 * 1024;

describe("watchOpener", () => {
  it("watches with the kubeconfig's credentials and hands over each event, then a clean end", async () => {
    const { origin, requests } = await serve((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write(line("ADDED", pod("a", "5")));
      response.end(line("DELETED", pod("a", "6")).trimEnd());
    });
    const watch = recorder();
    watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB })("/api/v1/pods", { resourceVersion: "4", allowWatchBookmarks: true }, watch.callbacks);
    expect(await watch.done).toBeNull();
    expect(watch.opened()).toBe(true);
    expect(watch.seen.map((e) => e.type)).toEqual(["ADDED", "DELETED"]);
    expect(requests[0]!.headers.authorization).toBe("Bearer secret-token");
    const url = new URL(requests[0]!.url!, origin);
    expect(url.pathname).toBe("/api/v1/pods");
    expect(Object.fromEntries(url.searchParams)).toEqual({ resourceVersion: "4", allowWatchBookmarks: "true", watch: "true" });
  });

  it("ends a watch whose line passes the cap, without buffering the rest of it", async () => {
    let written = 0;
    let closed = false;
    const { origin } = await serve((_request, response) => {
      response.writeHead(200);
      response.write(line("ADDED", pod("a", "5")));
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      response.on("close", () => (closed = true));
      // A line without end: 256 MiB, written as fast as the client reads.
      const pump = () => {
        while (!closed && written < 256 * MiB) {
          written += chunk.length;
          if (!response.write(chunk)) return void response.once("drain", pump);
        }
      };
      pump();
    });
    const watch = recorder();
    watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB })("/api/v1/pods", {}, watch.callbacks);
    const error = await watch.done;
    expect(String(error)).toMatch(/watch line too long/);
    expect(watch.seen.map((e) => e.type)).toEqual(["ADDED"]);
    await eventually(() => expect(closed).toBe(true));
    // The client stopped reading at the cap: what the server got out is the cap plus socket buffers.
    expect(written).toBeLessThan(32 * MiB);
  });

  it.each([
    ["not JSON", "<html>bad gateway</html>\n", /not JSON/],
    ["JSON but no watch event", '{"kind":"Status"}\n', /not a watch event/],
  ])("ends a watch on a line that is %s: an event was lost, so only a list restores the truth", async (_what, body, message) => {
    const { origin } = await serve((_request, response) => {
      response.writeHead(200);
      response.write(body);
    });
    const watch = recorder();
    watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB })("/api/v1/pods", {}, watch.callbacks);
    expect(String(await watch.done)).toMatch(message);
  });

  it("tells 410 Gone from other statuses, with the Status message, and opens nothing", async () => {
    const { origin } = await serve((request, response, url) => {
      const code = url.searchParams.get("resourceVersion") === "1" ? 410 : 403;
      response.writeHead(code, { "content-type": "application/json" });
      response.end(JSON.stringify({ kind: "Status", code, message: code === 410 ? "too old resource version" : 'pods is forbidden: User "x" cannot watch resource "pods"' }));
    });
    const gone = recorder();
    const forbidden = recorder();
    const open = watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB });
    open("/api/v1/pods", { resourceVersion: "1" }, gone.callbacks);
    open("/api/v1/pods", { resourceVersion: "2" }, forbidden.callbacks);
    expect(isGone(await gone.done)).toBe(true);
    const error = await forbidden.done;
    expect(isGone(error)).toBe(false);
    expect(String(error)).toMatch(/403.*pods is forbidden/);
    expect(gone.opened() || forbidden.opened()).toBe(false);
  });

  it("follows no redirect: the error names the target, which never sees the token", async () => {
    const elsewhere = await serve((_request, response) => response.end());
    const { origin } = await serve((_request, response) => {
      response.writeHead(307, { location: `${elsewhere.origin}/api/v1/pods?watch=true` });
      response.end();
    });
    const watch = recorder();
    watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB })("/api/v1/pods", {}, watch.callbacks);
    expect(String(await watch.done)).toContain(`redirect to ${elsewhere.origin}`);
    expect(elsewhere.requests).toHaveLength(0);
    expect(watch.opened()).toBe(false);
  });

  it("can be abandoned before the server answers, and calls nothing back after", async () => {
    let requestClosed = false;
    const { origin, requests } = await serve((request) => request.socket.on("close", () => (requestClosed = true)));
    const watch = recorder();
    let doneCalled = false;
    void watch.done.then(() => (doneCalled = true));
    const handle = watchOpener(kubeConfigFor(origin), { maxWatchLineBytes: MiB })("/api/v1/pods", {}, watch.callbacks);
    await eventually(() => expect(requests).toHaveLength(1));
    handle.abort();
    await eventually(() => expect(requestClosed).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(doneCalled).toBe(false);
    expect(watch.opened()).toBe(false);
  });
});

describe("lister", () => {
  const signal = () => new AbortController().signal;

  it("reads a page of a List, its resourceVersion and continue token", async () => {
    const { origin, requests } = await serve((_request, response) => {
      response.end(JSON.stringify({ kind: "PodList", metadata: { resourceVersion: "7", continue: "next" }, items: [pod("a", "5")] }));
    });
    const page = await lister(kubeConfigFor(origin), "/api/v1/pods", { maxListPageBytes: MiB })({ limit: 500, continueToken: "this", signal: signal() });
    expect(page).toEqual({ items: [pod("a", "5")], resourceVersion: "7", continueToken: "next" });
    expect(new URL(requests[0]!.url!, origin).search).toBe("?limit=500&continue=this");
    expect(requests[0]!.headers.authorization).toBe("Bearer secret-token");
    expect(requests[0]!.headers["accept-encoding"]).toBeUndefined();
  });

  it("stops reading a page past its byte cap", async () => {
    let closed = false;
    const { origin } = await serve((_request, response) => {
      response.on("close", () => (closed = true));
      response.write(`{"metadata":{},"items":[${'"x",'.repeat(MiB)}`);
    });
    const list = lister(kubeConfigFor(origin), "/api/v1/pods", { maxListPageBytes: MiB });
    await expect(list({ limit: 500, continueToken: undefined, signal: signal() })).rejects.toThrow(/list page \(KUBE_MAX_LIST_PAGE_BYTES\) passed 1048576 bytes/);
    await eventually(() => expect(closed).toBe(true));
  });

  it("refuses what is not a List, and a redirect, naming its target", async () => {
    const elsewhere = await serve((_request, response) => response.end("{}"));
    const { origin } = await serve((request, response) => {
      if (request.url!.startsWith("/api/v1/nodes")) return response.end('{"kind":"Status"}');
      response.writeHead(302, { location: `${elsewhere.origin}/api/v1/pods` });
      response.end();
    });
    const kc = kubeConfigFor(origin);
    const request = { limit: 500, continueToken: undefined, signal: signal() };
    await expect(lister(kc, "/api/v1/nodes", { maxListPageBytes: MiB })(request)).rejects.toThrow(/not a Kubernetes list/);
    await expect(lister(kc, "/api/v1/pods", { maxListPageBytes: MiB })(request)).rejects.toThrow(`redirect to ${elsewhere.origin}`);
    expect(elsewhere.requests).toHaveLength(0);
  });
});

describe("an informer on a hostile API server", () => {
  function informer(origin: string, limits: { maxListPages: number; maxWatchLineBytes: number }) {
    const kc = kubeConfigFor(origin);
    const names = new Set<string>();
    let restarts = 0;
    const running = new Informer<string>({
      resource: "pods",
      namespace: "",
      watchPath: "/api/v1/pods",
      list: lister(kc, "/api/v1/pods", { maxListPageBytes: MiB }),
      openWatch: watchOpener(kc, limits),
      decode: (raw) => (raw as { metadata?: { name?: string } }).metadata?.name ?? null,
      sink: {
        listed: (items) => {
          names.clear();
          for (const name of items) names.add(name);
        },
        changed: (name) => void names.add(name),
        deleted: (name) => void names.delete(name),
      },
      timing: { stallMs: 60_000, retryInitialMs: 5, retryMaxMs: 20, pageSize: 2, listTimeoutMs: 2000 },
      limits: { maxListPages: limits.maxListPages, maxListItems: 1000 },
      rejections: ignoreRejections,
      rejectionSource: "kube_pods",
      onRestart: () => void restarts++,
      onEvent: () => {},
      log: pino({ level: "silent" }),
    });
    running.start();
    stops.push(() => running.stop());
    return { running, names, restarts: () => restarts };
  }

  it("ends a list that never stops handing out continue tokens, with restarts, and converges once the server behaves", async () => {
    let endless = true;
    let listed = 0;
    const { origin } = await serve((_request, response, url) => {
      if (url.searchParams.get("watch") === "true") return response.writeHead(200).write("");
      listed++;
      const last = !endless && url.searchParams.get("continue") === "1";
      response.end(JSON.stringify({ metadata: { resourceVersion: "9", ...(last ? {} : { continue: "1" }) }, items: [pod(last ? "b" : "a", "9")] }));
    });
    const { running, names, restarts } = informer(origin, { maxListPages: 10, maxWatchLineBytes: MiB });
    await eventually(() => expect(restarts()).toBeGreaterThanOrEqual(3));
    expect(running.synced).toBe(false);
    expect(listed).toBeLessThanOrEqual(10 * (restarts() + 1));
    endless = false;
    await eventually(() => expect(running.synced).toBe(true));
    expect([...names].sort()).toEqual(["a", "b"]);
  });

  it("restarts a watch that streams one endless line, and lives on to apply what comes next", async () => {
    let watches = 0;
    const { origin } = await serve((_request, response, url) => {
      if (url.searchParams.get("watch") !== "true") return response.end(JSON.stringify({ metadata: { resourceVersion: "9" }, items: [pod("a", "9")] }));
      response.writeHead(200);
      if (++watches === 1) return response.write(Buffer.alloc(4 * MiB, 0x78));
      response.write(line("ADDED", pod("c", "10")));
    });
    const { names, restarts } = informer(origin, { maxListPages: 10, maxWatchLineBytes: 256 * 1024 });
    await eventually(() => expect([...names].sort()).toEqual(["a", "c"]));
    expect(restarts()).toBe(1);
    expect(watches).toBe(2);
  });
});
