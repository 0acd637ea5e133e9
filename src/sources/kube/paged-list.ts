import type { Lister } from "./list-watch.js";

/** How far one list may run, whatever the server says. */
export interface ListLimits {
  /** Pages per list: no continue token lifts it. */
  readonly maxListPages: number;
  /** Items per list, every page together, decodable or not. */
  readonly maxListItems: number;
}

export interface PagedListRequest<T> {
  readonly list: Lister;
  /** Items asked for per page; a page holding more is refused. */
  readonly pageSize: number;
  /** Time limit for one page. */
  readonly pageTimeoutMs: number;
  readonly limits: ListLimits;
  /** The item's snapshot, or null when it is refused (the decoder counts it). */
  readonly decode: (raw: unknown) => T | null;
  /** Aborts the page in flight and ends the list with an error. */
  readonly stop: AbortSignal;
}

export interface ListedItems<T> {
  readonly items: readonly T[];
  /** The list's snapshot: the first page's resourceVersion. */
  readonly resourceVersion: string;
}

/** A list past one of its limits: handled as a failed list. */
export class ListOverLimit extends Error {}

/** The list was stopped between or during its pages. */
export class ListStopped extends Error {}

/**
 * Every page of a chunked list, decoded. No peer is trusted: a server handing out continue
 * tokens for ever, or overfilling its pages, ends the list with `ListOverLimit`; nothing is
 * kept of a list that does not end, so the caller starts the next one from scratch.
 */
export async function listAllPages<T>(request: PagedListRequest<T>): Promise<ListedItems<T>> {
  const { pageSize, limits, decode } = request;
  const items: T[] = [];
  let continueToken: string | undefined;
  let resourceVersion = "";
  let pages = 0;
  let received = 0;
  do {
    if (++pages > limits.maxListPages) throw new ListOverLimit(`list passed ${limits.maxListPages} pages (KUBE_MAX_LIST_PAGES)`);
    const page = await onePage(request, continueToken);
    // Every page of a chunked list is served from the first page's snapshot.
    if (continueToken === undefined) resourceVersion = page.resourceVersion;
    if (page.items.length > pageSize) throw new ListOverLimit(`list page held ${page.items.length} items, ${pageSize} were asked for`);
    received += page.items.length;
    if (received > limits.maxListItems) throw new ListOverLimit(`list passed ${limits.maxListItems} items (KUBE_MAX_LIST_ITEMS)`);
    for (const raw of page.items) {
      const item = decode(raw);
      if (item !== null) items.push(item);
    }
    continueToken = page.continueToken || undefined;
  } while (continueToken !== undefined);
  return { items, resourceVersion };
}

/** One page, within its time limit, aborted when the list is stopped. */
async function onePage<T>(request: PagedListRequest<T>, continueToken: string | undefined) {
  const { list, pageSize, pageTimeoutMs, stop } = request;
  if (stop.aborted) throw new ListStopped();
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, pageTimeoutMs);
  stop.addEventListener("abort", abort);
  try {
    const page = await list({ limit: pageSize, continueToken, signal: controller.signal });
    if (stop.aborted) throw new ListStopped();
    return page;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", abort);
  }
}
