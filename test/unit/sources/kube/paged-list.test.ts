import { describe, expect, it } from "vitest";
import type { ListPage } from "../../../../src/sources/kube/list-watch.js";
import { listAllPages, ListOverLimit, ListStopped, type PagedListRequest } from "../../../../src/sources/kube/paged-list.js";

/** `total` numbered items served `limit` at a time; each page names its own resourceVersion. */
function pages(total: number, options: { overfill?: number; endless?: boolean } = {}) {
  const asked: Array<{ limit: number; continueToken: string | undefined }> = [];
  const list = async ({ limit, continueToken }: { limit: number; continueToken: string | undefined }): Promise<ListPage> => {
    asked.push({ limit, continueToken });
    const start = Number(continueToken ?? 0);
    const items = Array.from({ length: Math.max(0, Math.min(limit + (options.overfill ?? 0), total - start)) }, (_, i) => start + i);
    const next = options.endless || start + limit < total ? String(start + limit) : undefined;
    return { items, resourceVersion: `rv-${asked.length}`, continueToken: next };
  };
  return { list, asked };
}

function request(list: PagedListRequest<number>["list"], overrides: Partial<PagedListRequest<number>> = {}): PagedListRequest<number> {
  return {
    list,
    pageSize: 2,
    pageTimeoutMs: 1_000,
    limits: { maxListPages: 10, maxListItems: 100 },
    decode: (raw) => (typeof raw === "number" && raw % 5 !== 4 ? raw : null),
    stop: new AbortController().signal,
    ...overrides,
  };
}

describe("listAllPages", () => {
  it("follows continue tokens to the end, keeps what decodes, and takes the first page's resourceVersion", async () => {
    const { list, asked } = pages(5);
    expect(await listAllPages(request(list))).toEqual({ items: [0, 1, 2, 3], resourceVersion: "rv-1" });
    expect(asked).toEqual([
      { limit: 2, continueToken: undefined },
      { limit: 2, continueToken: "2" },
      { limit: 2, continueToken: "4" },
    ]);
  });

  it("stops a server that hands out continue tokens for ever at the page limit", async () => {
    const { list, asked } = pages(1, { endless: true });
    await expect(listAllPages(request(list, { limits: { maxListPages: 3, maxListItems: 100 } }))).rejects.toThrow(ListOverLimit);
    expect(asked).toHaveLength(3);
  });

  it("refuses a page holding more than was asked for, and a list past its item limit", async () => {
    await expect(listAllPages(request(pages(10, { overfill: 1 }).list))).rejects.toThrow("list page held 3 items, 2 were asked for");
    await expect(listAllPages(request(pages(10).list, { limits: { maxListPages: 10, maxListItems: 5 } }))).rejects.toThrow("list passed 5 items (KUBE_MAX_LIST_ITEMS)");
  });

  it("aborts the page in flight when stopped, and a page that outlives its time limit", async () => {
    const hanging = (seen: AbortSignal[]) => ({ signal }: { signal: AbortSignal }) => {
      seen.push(signal);
      return new Promise<ListPage>((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))));
    };
    const stopping = new AbortController();
    const stoppedSignals: AbortSignal[] = [];
    const stopped = listAllPages(request(hanging(stoppedSignals), { stop: stopping.signal }));
    stopping.abort();
    await expect(stopped).rejects.toThrow();
    expect(stoppedSignals[0]!.aborted).toBe(true);
    await expect(listAllPages(request(pages(3).list, { stop: stopping.signal }))).rejects.toThrow(ListStopped);

    const timedOut: AbortSignal[] = [];
    await expect(listAllPages(request(hanging(timedOut), { pageTimeoutMs: 20 }))).rejects.toThrow("aborted");
    expect(timedOut[0]!.aborted).toBe(true);
  });
});
