import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Rejections } from "../../../../src/lib/rejections.js";
import { Informer, type InformerSink } from "../../../../src/sources/kube/informer.js";
import type { ListPage, WatchCallbacks } from "../../../../src/sources/kube/list-watch.js";
import type { ListLimits } from "../../../../src/sources/kube/paged-list.js";
import { eventually } from "../../../helpers/prom.js";

interface Obj {
  readonly name: string;
  readonly version: string;
}

/** A fake API: objects with resourceVersions, list pages, and watch streams the test drives. */
class FakeApi {
  objects = new Map<string, string>();
  revision = 1;
  lists = 0;
  failLists = 0;
  goneOnContinue = false;
  /** Hands out a continue token on every page, as a broken or hostile server might. */
  endlessContinue = false;
  /** Objects without a name: the test's decoder refuses them. */
  malformed = 0;
  /** Items per page beyond what was asked for. */
  overfill = 0;
  watches: Array<{ query: Readonly<Record<string, string | number | boolean>>; callbacks: WatchCallbacks; aborted: boolean }> = [];
  acceptWatches = true;

  set(name: string): void {
    this.objects.set(name, String(++this.revision));
    this.emit("MODIFIED", name);
  }
  delete(name: string): void {
    this.objects.delete(name);
    ++this.revision;
    this.current()?.callbacks.event("DELETED", { metadata: { name, resourceVersion: String(this.revision) } });
  }
  emit(type: string, name: string): void {
    this.current()?.callbacks.event(type, { metadata: { name, resourceVersion: this.objects.get(name) } });
  }
  current() {
    const last = this.watches.at(-1);
    return last && !last.aborted ? last : undefined;
  }
  async list(request: { limit: number; continueToken: string | undefined }): Promise<ListPage> {
    this.lists++;
    if (this.failLists > 0) {
      this.failLists--;
      throw Object.assign(new Error("HTTP-Code: 500"), { code: 500 });
    }
    if (request.continueToken !== undefined && this.goneOnContinue) {
      this.goneOnContinue = false;
      throw Object.assign(new Error("expired"), { code: 410 });
    }
    const all: object[] = [...this.objects].map(([name, version]) => ({ metadata: { name, resourceVersion: version } }));
    for (let i = 0; i < this.malformed; i++) all.push({ metadata: { uid: `broken-${i}` } });
    const start = request.continueToken === undefined ? 0 : Number(request.continueToken);
    const items = all.slice(start, start + request.limit + this.overfill);
    const next = this.endlessContinue || start + request.limit < all.length ? String(start + request.limit) : undefined;
    return { items, resourceVersion: String(this.revision), continueToken: next };
  }
}

const running: Array<Informer<Obj>> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

function start(api: FakeApi, timing: Partial<{ stallMs: number }> = {}, limits: Partial<ListLimits> = {}) {
  const state = new Map<string, string>();
  const log: string[] = [];
  const rejected: Array<{ reason: string; detail: Readonly<Record<string, unknown>> | undefined }> = [];
  const rejections: Rejections = {
    reject(source, reason, detail) {
      expect(source).toBe("kube_pods");
      rejected.push({ reason, detail });
    },
  };
  let restarts = 0;
  const sink: InformerSink<Obj> = {
    listed(items, first) {
      log.push(first ? "first-list" : "list");
      state.clear();
      for (const item of items) state.set(item.name, item.version);
    },
    changed(item) {
      state.set(item.name, item.version);
    },
    deleted(item) {
      state.delete(item.name);
    },
  };
  const informer = new Informer<Obj>({
    resource: "things",
    namespace: "",
    watchPath: "/things",
    list: (request) => api.list(request),
    openWatch: (_path, query, callbacks) => {
      const watch = { query, callbacks, aborted: false };
      api.watches.push(watch);
      if (api.acceptWatches) setImmediate(() => !watch.aborted && callbacks.opened());
      return { abort: () => void (watch.aborted = true) };
    },
    decode: (raw) => {
      const meta = (raw as { metadata?: { name?: string; resourceVersion?: string } }).metadata;
      return meta?.name ? { name: meta.name, version: meta.resourceVersion ?? "" } : null;
    },
    sink,
    timing: { stallMs: timing.stallMs ?? 60_000, retryInitialMs: 5, retryMaxMs: 20, pageSize: 2, listTimeoutMs: 1000 },
    limits: { maxListPages: limits.maxListPages ?? 100, maxListItems: limits.maxListItems ?? 100 },
    rejections,
    rejectionSource: "kube_pods",
    onRestart: () => restarts++,
    onEvent: () => {},
    log: pino({ level: "silent" }),
  });
  running.push(informer);
  informer.start();
  return { informer, state, log, rejected, restarts: () => restarts };
}

describe("Informer", () => {
  it("lists in pages, then watches from the list's resourceVersion with bookmarks and a server timeout", async () => {
    const api = new FakeApi();
    for (const name of ["a", "b", "c", "d", "e"]) api.objects.set(name, String(++api.revision));
    const { informer, state } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    expect(informer.synced).toBe(true);
    expect([...state.keys()].sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(api.lists).toBe(3);
    expect(api.watches[0]!.query).toMatchObject({ resourceVersion: "6", allowWatchBookmarks: true });
    api.set("f");
    api.delete("a");
    expect([...state.keys()].sort()).toEqual(["b", "c", "d", "e", "f"]);
  });

  it("re-lists at once on a 410 ERROR event and converges, counting one restart", async () => {
    const api = new FakeApi();
    api.objects.set("a", "1");
    const { state, restarts, log } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    // Changes the watch will not deliver: the stream expires.
    api.objects.delete("a");
    api.objects.set("b", String(++api.revision));
    api.current()!.callbacks.event("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect([...state.keys()]).toEqual(["b"]);
    expect(restarts()).toBe(1);
    expect(log).toEqual(["first-list", "list"]);
  });

  it("ends the watch on any other ERROR event and re-lists after a pause, counting one restart", async () => {
    const api = new FakeApi();
    api.objects.set("a", "1");
    const { state, restarts, log } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.objects.delete("a");
    api.objects.set("b", String(++api.revision));
    // The server leaves the stream open after the event: the informer must not wait on it.
    api.current()!.callbacks.event("ERROR", { kind: "Status", code: 500, reason: "InternalError", message: "etcdserver: request timed out" });
    expect(api.watches[0]!.aborted).toBe(true);
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect([...state.keys()]).toEqual(["b"]);
    expect(log).toEqual(["first-list", "list"]);
    expect(restarts()).toBe(1);
    // Later events of the abandoned stream change nothing.
    api.watches[0]!.callbacks.event("ADDED", { metadata: { name: "ghost", resourceVersion: "99" } });
    expect(state.has("ghost")).toBe(false);
  });

  it("re-lists on an HTTP 410 answer to the watch", async () => {
    const api = new FakeApi();
    const { restarts } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.current()!.callbacks.done(Object.assign(new Error("Gone"), { statusCode: 410 }));
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect(api.lists).toBe(2);
    expect(restarts()).toBe(1);
  });

  /**
   * The informer's stream is cut, and it resumes from its version while etcd is restored from a
   * snapshot: the server's versions are now below it.
   */
  async function resumingAfterEtcdRestore(timing: Partial<{ stallMs: number }> = {}) {
    const api = new FakeApi();
    api.revision = 500;
    api.set("a");
    const informer = start(api, timing);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.current()!.callbacks.done(null);
    await eventually(() => expect(api.watches).toHaveLength(2));
    const handedOut = api.watches[0]!.query.resourceVersion;
    expect(api.watches[1]!.query.resourceVersion).toBe(handedOut);
    api.revision = 10;
    api.objects.set("b", String(++api.revision));
    return { api, handedOut, ...informer };
  }

  /** Listed again, and watching from the restored server's version. */
  function relisted({ api, state, restarts }: Awaited<ReturnType<typeof resumingAfterEtcdRestore>>) {
    expect(api.lists).toBe(2);
    expect(api.watches[2]!.query.resourceVersion).toBe("11");
    expect([...state.keys()].sort()).toEqual(["a", "b"]);
    expect(restarts()).toBe(2);
  }

  it.each([
    ["as an ERROR event", (callbacks: WatchCallbacks, status: object) => callbacks.event("ERROR", status)],
    ["as the answer to the watch", (callbacks: WatchCallbacks) => callbacks.done(Object.assign(new Error("HTTP-Code: 504"), { statusCode: 504 }))],
  ])("drops its resourceVersion and lists again on 504 Too large resource version %s (etcd restored from a snapshot)", async (_how, answer) => {
    const resumed = await resumingAfterEtcdRestore();
    const { api, handedOut } = resumed;
    answer(api.current()!.callbacks, {
      kind: "Status",
      status: "Failure",
      message: `Timeout: Too large resource version: ${handedOut}, current: ${api.revision}`,
      reason: "Timeout",
      details: { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }], retryAfterSeconds: 1 },
      code: 504,
    });
    await eventually(() => expect(api.watches).toHaveLength(3));
    relisted(resumed);
  });

  it("lists again when a resumed watch is accepted but stays silent (its version ahead of the server's), instead of resuming from it again", async () => {
    // An API server on a restored etcd accepts the watch and sends nothing, bookmarks included.
    const resumed = await resumingAfterEtcdRestore({ stallMs: 300 });
    await eventually(() => expect(resumed.api.watches).toHaveLength(3), 3000);
    expect(resumed.api.watches[1]!.aborted).toBe(true);
    relisted(resumed);
  });

  it("retries failed lists with backoff and counts each restart", async () => {
    const api = new FakeApi();
    api.failLists = 3;
    const { informer, restarts } = start(api);
    await eventually(() => expect(informer.synced).toBe(true));
    expect(restarts()).toBe(3);
    expect(api.lists).toBe(4);
  });

  it("starts a chunked list over when its continue token expires", async () => {
    const api = new FakeApi();
    for (const name of ["a", "b", "c"]) api.objects.set(name, String(++api.revision));
    api.goneOnContinue = true;
    const { state } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    expect(state.size).toBe(3);
  });

  it("re-lists after a stream error", async () => {
    const api = new FakeApi();
    const { restarts } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.current()!.callbacks.done(new Error("socket hang up"));
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect(restarts()).toBe(1);
    expect(api.lists).toBe(2);
  });

  it("watches again from the last resourceVersion after a clean early end, counting a restart but listing nothing", async () => {
    const api = new FakeApi();
    api.objects.set("a", String(++api.revision));
    const { state, restarts, log } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.set("b");
    // A load balancer ends the idle stream long before the timeout the watch asked for.
    api.current()!.callbacks.done(null);
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect(api.watches[1]!.query.resourceVersion).toBe(api.objects.get("b"));
    api.set("c");
    expect([...state.keys()].sort()).toEqual(["a", "b", "c"]);
    expect(api.lists).toBe(1);
    expect(log).toEqual(["first-list"]);
    expect(restarts()).toBe(1);
  });

  it("lists again when the watch after a cut finds its resourceVersion expired", async () => {
    const api = new FakeApi();
    const { restarts } = start(api);
    await eventually(() => expect(api.watches).toHaveLength(1));
    api.current()!.callbacks.done(null);
    await eventually(() => expect(api.watches).toHaveLength(2));
    api.current()!.callbacks.event("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    await eventually(() => expect(api.watches).toHaveLength(3));
    expect(api.lists).toBe(2);
    expect(restarts()).toBe(2);
  });

  it("backs off when streams keep being cut at once, and lists again once they have been silent past the stall limit", async () => {
    const api = new FakeApi();
    const { restarts } = start(api, { stallMs: 400 });
    await eventually(() => expect(api.watches).toHaveLength(1));
    const cutting = setInterval(() => api.current()?.callbacks.done(null), 1);
    try {
      await eventually(() => expect(api.lists).toBe(2), 3000);
    } finally {
      clearInterval(cutting);
    }
    // Backoff (5 ms doubling to 20 ms) kept the cut watches to a few dozen, not thousands.
    expect(api.watches.length).toBeLessThan(60);
    expect(restarts()).toBeGreaterThan(2);
  });

  it("restarts a watch that stays silent past the stall limit, even before any header", async () => {
    const api = new FakeApi();
    api.acceptWatches = false;
    const { restarts } = start(api, { stallMs: 150 });
    await eventually(() => expect(api.watches.length).toBeGreaterThanOrEqual(2), 3000);
    expect(api.watches[0]!.aborted).toBe(true);
    expect(restarts()).toBeGreaterThanOrEqual(1);
  });

  it("keeps a stream alive on bookmarks and follows their resourceVersion", async () => {
    const api = new FakeApi();
    const { restarts } = start(api, { stallMs: 300 });
    await eventually(() => expect(api.watches).toHaveLength(1));
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      api.current()!.callbacks.event("BOOKMARK", { metadata: { resourceVersion: String(100 + i) } });
    }
    expect(api.watches).toHaveLength(1);
    expect(restarts()).toBe(0);
  });

  it("watches again from the last resourceVersion, without a list, when the server ends the watch at its timeout", async () => {
    const api = new FakeApi();
    const { restarts } = start(api, { stallMs: 2000 });
    await eventually(() => expect(api.watches).toHaveLength(1));
    const timeoutSeconds = Number(api.watches[0]!.query.timeoutSeconds);
    expect(timeoutSeconds).toBe(1);
    api.current()!.callbacks.event("BOOKMARK", { metadata: { resourceVersion: "77" } });
    await new Promise((resolve) => setTimeout(resolve, timeoutSeconds * 1000));
    api.current()!.callbacks.done(null);
    await eventually(() => expect(api.watches).toHaveLength(2));
    expect(api.watches[1]!.query.resourceVersion).toBe("77");
    expect(api.lists).toBe(1);
    expect(restarts()).toBe(0);
  });

  it("stops promptly, whatever it is doing", async () => {
    const api = new FakeApi();
    api.failLists = 1000;
    const { informer } = start(api);
    await eventually(() => expect(api.lists).toBeGreaterThan(1));
    const before = Date.now();
    await informer.stop();
    expect(Date.now() - before).toBeLessThan(100);
  });

  describe("against a server that is not to be trusted", () => {
    it("ends a list that hands out continue tokens past the page limit, with a counted restart and backoff, and converges once the server behaves", async () => {
      const api = new FakeApi();
      for (const name of ["a", "b", "c"]) api.objects.set(name, String(++api.revision));
      api.endlessContinue = true;
      const { informer, state, restarts } = start(api, {}, { maxListPages: 5, maxListItems: 1000 });
      await eventually(() => expect(restarts()).toBeGreaterThanOrEqual(2));
      expect(informer.synced).toBe(false);
      expect(api.watches).toHaveLength(0);
      // Each attempt stops at the limit: 5 pages, then a pause before the next list.
      expect(api.lists).toBeLessThanOrEqual(5 * (restarts() + 1));
      api.endlessContinue = false;
      await eventually(() => expect(api.watches).toHaveLength(1));
      expect([...state.keys()].sort()).toEqual(["a", "b", "c"]);
    });

    it("ends a list past its item limit, all pages together, and lists again once it fits", async () => {
      const api = new FakeApi();
      for (const name of ["a", "b", "c", "d", "e"]) api.objects.set(name, String(++api.revision));
      const { informer, restarts } = start(api, {}, { maxListItems: 4 });
      await eventually(() => expect(restarts()).toBeGreaterThanOrEqual(1));
      expect(informer.synced).toBe(false);
      api.objects.delete("e");
      await eventually(() => expect(informer.synced).toBe(true));
    });

    it("refuses a page holding more items than were asked for", async () => {
      const api = new FakeApi();
      for (const name of ["a", "b", "c"]) api.objects.set(name, String(++api.revision));
      api.overfill = 1;
      const { informer, restarts } = start(api);
      await eventually(() => expect(restarts()).toBeGreaterThanOrEqual(1));
      expect(informer.synced).toBe(false);
      api.overfill = 0;
      await eventually(() => expect(informer.synced).toBe(true));
    });

    it("counts each object the decoder refuses, listed or watched, and applies the rest", async () => {
      const api = new FakeApi();
      api.objects.set("a", "1");
      api.malformed = 2;
      const { state, rejected, restarts } = start(api);
      await eventually(() => expect(api.watches).toHaveLength(1));
      expect([...state.keys()]).toEqual(["a"]);
      expect(rejected.map((r) => r.reason)).toEqual(["schema", "schema"]);
      expect(rejected[0]!.detail).toMatchObject({ via: "list", uid: "broken-0" });
      api.current()!.callbacks.event("MODIFIED", { metadata: { uid: "no-name", resourceVersion: "9" } });
      api.current()!.callbacks.event("SHUFFLED", { metadata: { name: "b", resourceVersion: "10" } });
      api.set("c");
      expect(rejected.slice(2)).toEqual([
        { reason: "schema", detail: expect.objectContaining({ via: "watch", eventType: "MODIFIED", uid: "no-name" }) },
        { reason: "event_type", detail: expect.objectContaining({ via: "watch", eventType: "SHUFFLED", name: "b" }) },
      ]);
      expect([...state.keys()].sort()).toEqual(["a", "c"]);
      expect(restarts()).toBe(0);
    });
  });
});
