import { describe, expect, it } from "vitest";
import type { WatchCallbacks, WatchOpener } from "../../../../src/sources/kube/list-watch.js";
import { watchOnce, type WatchRequest } from "../../../../src/sources/kube/watch-once.js";

/** A watch the test drives: its callbacks, and whether the watch was aborted. */
function fakeWatch() {
  const opened: Array<{ query: Readonly<Record<string, string | number | boolean>>; callbacks: WatchCallbacks; aborted: boolean }> = [];
  const openWatch: WatchOpener = (_path, query, callbacks) => {
    const entry = { query, callbacks, aborted: false };
    opened.push(entry);
    return { abort: () => void (entry.aborted = true) };
  };
  return { openWatch, opened, current: () => opened[0]! };
}

function start(overrides: Partial<WatchRequest> = {}) {
  const watch = fakeWatch();
  const heard: number[] = [];
  const received: string[] = [];
  const stopping = new AbortController();
  let clock = 1_000;
  const result = watchOnce({
    openWatch: watch.openWatch,
    path: "/api/v1/pods",
    fromVersion: "10",
    timeoutSeconds: 60,
    stallMs: 5_000,
    stop: stopping.signal,
    now: () => clock,
    opened: () => undefined,
    heard: (atMs) => void heard.push(atMs),
    received: (type, object) => void received.push(`${type} ${(object as { metadata: { name: string } }).metadata.name}`),
    ...overrides,
  });
  const event = (type: string, name: string, resourceVersion: string) => watch.current().callbacks.event(type, { metadata: { name, resourceVersion } });
  return { watch, result, heard, received, stopping, event, advance: (ms: number) => void (clock += ms) };
}

describe("watchOnce", () => {
  it("asks for bookmarks and the server timeout from the version given, and follows resourceVersions", async () => {
    const { watch, result, heard, received, event } = start();
    expect(watch.current().query).toEqual({ resourceVersion: "10", allowWatchBookmarks: true, timeoutSeconds: 60 });
    event("ADDED", "a", "11");
    event("BOOKMARK", "", "15");
    event("DELETED", "a", "12");
    watch.current().callbacks.done(new Error("reset"));
    expect(await result).toMatchObject({ end: { kind: "failed", reason: "watch failed" }, resourceVersion: "12" });
    expect(received).toEqual(["ADDED a", "DELETED a"]);
    expect(heard).toHaveLength(3);
    expect(watch.current().aborted).toBe(true);
  });

  it("ends as gone on a 410 ERROR event or status, and as failed on another ERROR", async () => {
    const gone = start();
    gone.watch.current().callbacks.event("ERROR", { code: 410, message: "too old resource version" });
    expect((await gone.result).end).toEqual({ kind: "gone" });
    const goneStatus = start();
    goneStatus.watch.current().callbacks.done(Object.assign(new Error("Gone"), { statusCode: 410 }));
    expect((await goneStatus.result).end).toEqual({ kind: "gone" });
    const failed = start();
    failed.watch.current().callbacks.event("ERROR", { code: 500, message: "etcd" });
    expect((await failed.result).end).toEqual({ kind: "failed", reason: "watch error 500 etcd" });
    expect(failed.heard).toEqual([]);
  });

  it("tells a clean end at the server's timeout from a stream cut before it", async () => {
    const onTime = start();
    onTime.advance(55_000);
    onTime.watch.current().callbacks.done(null);
    expect((await onTime.result).end).toEqual({ kind: "timeout" });
    const cut = start();
    cut.advance(5_000);
    cut.watch.current().callbacks.done(null);
    expect((await cut.result).end).toEqual({ kind: "cut" });
  });

  it("ends a silent stream at the stall limit, and a stopped one at once", async () => {
    const silent = start({ stallMs: 30 });
    expect((await silent.result).end).toEqual({ kind: "failed", reason: "watch stalled" });
    expect(silent.watch.current().aborted).toBe(true);
    const stopped = start();
    stopped.stopping.abort();
    expect((await stopped.result).end).toEqual({ kind: "stopped" });
  });

  it("ends as failed when applying an event throws, and hears nothing after its end", async () => {
    const { watch, result, received, event } = start({
      received: (type) => {
        if (type === "MODIFIED") throw new Error("bug");
        received.push(type);
      },
    });
    event("ADDED", "a", "11");
    event("MODIFIED", "a", "12");
    event("ADDED", "b", "13");
    expect((await result).end).toMatchObject({ kind: "failed", reason: "applying a watch event failed" });
    expect(received).toEqual(["ADDED"]);
    expect(watch.current().aborted).toBe(true);
  });
});
