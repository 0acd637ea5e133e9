import { describe, expect, it } from "vitest";
import { SyncAccounting } from "../../../../../src/sources/gitlab/poller/sync.js";

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

  it("is ready once the first discovery answered and no first sweep is under way, and stays ready", () => {
    const { sync } = accounting();
    expect(sync.initialSyncDone()).toBe(false);
    sync.discoveryDone();
    expect(sync.hasDiscovered).toBe(true);
    expect(sync.initialSyncDone(true)).toBe(false);
    expect(sync.initialSyncDone(false)).toBe(true);
    expect(sync.initialSyncDone(true)).toBe(true);
  });
});
