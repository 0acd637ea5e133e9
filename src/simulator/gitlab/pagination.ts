/**
 * GitLab's pagination headers (doc/api/rest/_index.md, "Pagination"): offset pages with `Link`
 * and `x-*` headers, and the two keyset flavours (`id_after`/`id_before` filters and an opaque
 * `cursor`). Links are absolute, keep every query parameter of the request and list them
 * sorted, as Rails' `to_query` does.
 */

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;
/** Above this many records GitLab stops counting: no x-total, x-total-pages or rel="last". */
export const COUNT_LIMIT = 10_000;

export interface Page<T> {
  readonly items: readonly T[];
  readonly headers: Record<string, string>;
}

export function perPageOf(url: URL): number {
  const raw = url.searchParams.get("per_page");
  const value = raw === null ? DEFAULT_PER_PAGE : Number(raw);
  if (!Number.isFinite(value) || value < 1) return DEFAULT_PER_PAGE;
  return Math.min(MAX_PER_PAGE, Math.floor(value));
}

/** `page` and `per_page` over the whole list; `loop` makes `next` point back at this page. */
export function offsetPage<T>(url: URL, all: readonly T[], loop = false): Page<T> {
  const perPage = perPageOf(url);
  const requested = Number(url.searchParams.get("page") ?? 1);
  const page = Number.isFinite(requested) && requested >= 1 ? Math.floor(requested) : 1;
  const totalPages = Math.max(1, Math.ceil(all.length / perPage));
  const items = all.slice((page - 1) * perPage, page * perPage);
  const at = (n: number) => linkTo(url, { page: String(n), per_page: String(perPage) });
  const next = loop ? page : page < totalPages ? page + 1 : null;
  const prev = page > 1 ? page - 1 : null;
  const counted = all.length <= COUNT_LIMIT;

  const links: string[] = [];
  if (prev !== null) links.push(`<${at(prev)}>; rel="prev"`);
  if (next !== null) links.push(`<${at(next)}>; rel="next"`);
  links.push(`<${at(1)}>; rel="first"`);
  if (counted) links.push(`<${at(totalPages)}>; rel="last"`);

  const headers: Record<string, string> = {
    link: links.join(", "),
    "x-next-page": next === null ? "" : String(next),
    "x-page": String(page),
    "x-per-page": String(perPage),
    "x-prev-page": prev === null ? "" : String(prev),
  };
  if (counted) {
    headers["x-total"] = String(all.length);
    headers["x-total-pages"] = String(totalPages);
  }
  return { items, headers };
}

/**
 * Keyset by `id` with an `id_after` (ascending) or `id_before` (descending) filter, like GitLab's
 * `Keyset::Pager` for projects. That pager cannot see past the page: it links to a next page
 * whenever this one is full, and the request after the last full page gets `[]` without `Link`.
 * `sorted` must already be in the requested order.
 */
export function idKeysetPage<T extends { readonly id: number }>(url: URL, sorted: readonly T[], direction: "asc" | "desc", loop = false): Page<T> {
  const perPage = perPageOf(url);
  const filter = direction === "asc" ? "id_after" : "id_before";
  const bound = Number(url.searchParams.get(filter));
  const hasBound = url.searchParams.has(filter) && Number.isFinite(bound);
  const items: T[] = [];
  for (const item of sorted) {
    if (hasBound && (direction === "asc" ? item.id <= bound : item.id >= bound)) continue;
    items.push(item);
    if (items.length === perPage) break;
  }
  const headers: Record<string, string> = {};
  if (loop) headers.link = `<${linkTo(url, {})}>; rel="next"`;
  else if (items.length === perPage) headers.link = `<${linkTo(url, { [filter]: String(items.at(-1)!.id) })}>; rel="next"`;
  return { items, headers };
}

/**
 * Keyset by `id` descending with an opaque `cursor`, like GitLab's `CursorPager` for jobs. That
 * pager reads one record ahead, so the last page has no `Link`. `sorted` must be id-descending.
 */
export function cursorKeysetPage<T extends { readonly id: number }>(url: URL, sorted: readonly T[], loop = false): Page<T> {
  const perPage = perPageOf(url);
  const cursor = url.searchParams.get("cursor");
  const before = cursor === null ? Infinity : decodeCursor(cursor);
  const items: T[] = [];
  let more = false;
  for (const item of sorted) {
    if (item.id >= before) continue;
    if (items.length === perPage) {
      more = true;
      break;
    }
    items.push(item);
  }
  const headers: Record<string, string> = {};
  if (loop) headers.link = `<${linkTo(url, {})}>; rel="next"`;
  else if (more) headers.link = `<${linkTo(url, { cursor: encodeCursor(items.at(-1)!.id) })}>; rel="next"`;
  return { items, headers };
}

/** GitLab's cursor: URL-safe Base64 (with padding) of `{"id":"<last id>","_kd":"n"}`. */
export function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id: String(id), _kd: "n" })).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

/** The id a cursor points after; a cursor that does not parse starts from the top, as a fresh list. */
export function decodeCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
    const id = typeof parsed === "object" && parsed !== null && "id" in parsed ? Number(parsed.id) : NaN;
    return Number.isFinite(id) ? id : Infinity;
  } catch {
    return Infinity;
  }
}

function linkTo(url: URL, set: Record<string, string>): string {
  const next = new URL(url.toString());
  for (const [key, value] of Object.entries(set)) next.searchParams.set(key, value);
  next.searchParams.sort();
  return next.toString();
}
