import { isGone, type WatchHandle, type WatchOpener } from "./list-watch.js";
import { resourceVersionOf } from "./wire.js";

/** How one watch stream ended: what the informer's loop does next depends on it. */
export type WatchEnd =
  /** The server ended the watch at its timeout: watch again from where it stopped. */
  | { readonly kind: "timeout" }
  /** The stream ended cleanly before its time: watch again from where it stopped, no list. */
  | { readonly kind: "cut" }
  /** The resourceVersion is too old: list again. */
  | { readonly kind: "gone" }
  | { readonly kind: "failed"; readonly reason: string; readonly error?: unknown }
  | { readonly kind: "stopped" };

export interface WatchRequest {
  readonly openWatch: WatchOpener;
  readonly path: string;
  readonly fromVersion: string;
  /** The server is asked to end the watch after this long. */
  readonly timeoutSeconds: number;
  /** No event (bookmarks included) for this long: the stream is presumed dead. */
  readonly stallMs: number;
  /** Ends the watch as `stopped`. */
  readonly stop: AbortSignal;
  readonly now: () => number;
  /** The server accepted the watch. */
  readonly opened: (atMs: number) => void;
  /** Any event but ERROR, bookmarks included: a sign of life. */
  readonly heard: (atMs: number) => void;
  /** An event that is neither ERROR nor BOOKMARK. Throwing ends the watch as failed. */
  readonly received: (type: string, object: unknown, atMs: number) => void;
}

export interface WatchResult {
  readonly end: WatchEnd;
  /** The last resourceVersion seen, to watch again from. */
  readonly resourceVersion: string;
}

/**
 * One watch stream, from `fromVersion` until it ends one way or another: an ERROR event, an
 * error, a clean end (at the server's timeout, or cut before it), silence past `stallMs`, or
 * `stop`. Nothing is called back after it ended.
 */
export function watchOnce(request: WatchRequest): Promise<WatchResult> {
  const { openWatch, path, fromVersion, timeoutSeconds, stallMs, stop, now } = request;
  return new Promise((resolve) => {
    let resourceVersion = fromVersion;
    // Assigned once openWatch returns; a watch may end while it is being opened.
    let handle: WatchHandle | undefined = undefined;
    let settled = false;
    const startedAt = now();
    const finish = (end: WatchEnd) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      stop.removeEventListener("abort", stopped);
      handle?.abort();
      resolve({ end, resourceVersion });
    };
    const stopped = () => finish({ kind: "stopped" });
    const watchdog = setTimeout(() => finish({ kind: "failed", reason: "watch stalled" }), stallMs);
    stop.addEventListener("abort", stopped);
    handle = openWatch(path, { resourceVersion: fromVersion, allowWatchBookmarks: true, timeoutSeconds }, {
      opened: () => {
        if (!settled) request.opened(now());
      },
      event: (type, object) => {
        if (settled) return;
        watchdog.refresh();
        const end = errorEnd(type, object);
        if (end) return finish(end);
        const atMs = now();
        resourceVersion = resourceVersionOf(object) ?? resourceVersion;
        request.heard(atMs);
        if (type === "BOOKMARK") return;
        try {
          request.received(type, object, atMs);
        } catch (error) {
          // A bug in applying one event must not stop the informer: start over from a list.
          finish({ kind: "failed", reason: "applying a watch event failed", error });
        }
      },
      done: (error) => {
        if (settled) return;
        if (stop.aborted) return finish({ kind: "stopped" });
        if (error) return finish(isGone(error) ? { kind: "gone" } : { kind: "failed", reason: "watch failed", error });
        // A clean end near the requested timeout is the server's; earlier, the stream was cut.
        finish(now() - startedAt >= timeoutSeconds * 900 ? { kind: "timeout" } : { kind: "cut" });
      },
    });
    if (settled) handle.abort();
    else if (stop.aborted) finish({ kind: "stopped" });
  });
}

/** An ERROR event's end: 410 Gone, or a failure naming the server's status. */
function errorEnd(type: string, object: unknown): WatchEnd | null {
  if (type !== "ERROR") return null;
  const status = object as { code?: unknown; message?: unknown } | null;
  if (status?.code === 410) return { kind: "gone" };
  return { kind: "failed", reason: `watch error ${String(status?.code ?? "")} ${String(status?.message ?? "")}`.trim() };
}
