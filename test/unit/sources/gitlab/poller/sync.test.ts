import { describe, expect, it } from "vitest";
import { SyncAccounting } from "../../../../../src/sources/gitlab/poller/sync.js";
import { freshWatch } from "../../../../helpers/fake-poller-world.js";

function accounting() {
  let now = 0;
  const synced: number[] = [];
  const sync = new SyncAccounting((atMs) => synced.push(atMs), () => now);
  return { sync, synced, setNow: (ms: number) => (now = ms) };
}

describe("SyncAccounting", () => {
  it("marks a sync only for a window in which GitLab answered and nothing failed, after the first discovery", () => {
    const { sync, synced, setNow } = accounting();
    sync.answered();
    sync.closeWindow(false);
    expect(synced).toEqual([]);

    sync.discoveryDone();
    setNow(1_000);
    sync.answered();
    sync.closeWindow(false);
    expect(synced).toEqual([1_000]);

    setNow(2_000);
    sync.answered();
    sync.answered();
    sync.failed();
    sync.closeWindow(false);
    expect(synced).toEqual([1_000]);

    // Every window starts afresh: the failure does not carry over.
    setNow(3_000);
    sync.answered();
    sync.closeWindow(false);
    expect(synced).toEqual([1_000, 3_000]);
  });

  it("marks no sync for a window without answers, unless there is nothing to ask", () => {
    const { sync, synced, setNow } = accounting();
    sync.discoveryDone();
    setNow(1_000);
    sync.closeWindow(false);
    expect(synced).toEqual([]);
    sync.closeWindow(true);
    expect(synced).toEqual([1_000]);
    sync.failed();
    sync.closeWindow(true);
    expect(synced).toEqual([1_000]);
  });

  it("is ready once every readable project was visited after the first discovery, and stays ready", () => {
    const { sync } = accounting();
    const watches = [freshWatch(1, { visited: true }), freshWatch(2), freshWatch(3, { readable: false })];
    expect(sync.initialSyncDone(watches)).toBe(false);
    sync.discoveryDone();
    expect(sync.hasDiscovered).toBe(true);
    expect(sync.initialSyncDone(watches)).toBe(false);
    watches[1]!.visited = true;
    expect(sync.initialSyncDone(watches)).toBe(true);
    expect(sync.initialSyncDone([freshWatch(4)])).toBe(true);
  });

  it("is ready once a sweep read every project after the first discovery, first visits or not, and stays ready", () => {
    const { sync } = accounting();
    const watches = [freshWatch(1), freshWatch(2)];
    // A sweep before any discovery says nothing of the projects to watch.
    expect(sync.initialSyncDone(watches, true)).toBe(false);
    sync.discoveryDone();
    expect(sync.initialSyncDone(watches, false)).toBe(false);
    expect(sync.initialSyncDone(watches, true)).toBe(true);
    // GraphQL gone later (REST alone, nothing swept): readiness stays.
    expect(sync.initialSyncDone(watches, false)).toBe(true);
  });
});
