import type { Logger } from "pino";
import type { RejectionSource, Rejections } from "../../lib/rejections.js";
import { resourceVersionOf } from "./wire.js";

/**
 * A list/watch loop that never gives up, built on client-node's list calls and `Watch` class.
 *
 * Why not client-node's `ListWatch` / `makeInformer`: they stop for good on any error other than
 * 410 Gone (the ERROR callback fires and nothing restarts them), they have no watchdog for a
 * stream that goes silent, and they cache every object whole. A slimming list function would
 * only slim the list: objects from watch events are cached as they arrive, so a cache of 10,000
 * pods would still cost hundreds of megabytes. Here each object is decoded into a small typed
 * snapshot at once and the caller's state keeps only that.
 *
 * The loop: list (in pages) → hand the snapshots over as the full truth → watch from the list's
 * resourceVersion, with bookmarks and a server-side timeout → when the server ends the watch at
 * its timeout, watch again from the last resourceVersion seen. A stream that ends cleanly before
 * its time (a load balancer or proxy ending idle streams) is watched again from there too, without
 * a list: counted as a restart, with backoff when it keeps happening. On 410 Gone (ERROR event or
 * HTTP status) list again at once; on any other error, or when the watches have been silent for
 * longer than the stall limit (across re-watches), list again after an exponential backoff with
 * jitter. Every list replaces the state, so objects deleted meanwhile are removed and nothing is
 * seen twice.
 *
 * No peer is trusted: a list that runs past its page or item limit (a server handing out
 * continue tokens for ever) ends like a failed one, with a restart and backoff, and the next
 * list starts from scratch; an object the decoder refuses is counted as a rejection and logged.
 */

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** Absent on the last page. */
  readonly continueToken: string | undefined;
}

export type Lister = (request: { readonly limit: number; readonly continueToken: string | undefined; readonly signal: AbortSignal }) => Promise<ListPage>;

export interface WatchHandle {
  abort(): void;
}

export interface WatchCallbacks {
  /** The server accepted the watch (HTTP 200). */
  opened(): void;
  event(type: string, object: unknown): void;
  /** The stream ended: null when it closed cleanly, else the error. Called at most once. */
  done(error: unknown): void;
}

export type WatchOpener = (path: string, query: Readonly<Record<string, string | number | boolean>>, callbacks: WatchCallbacks) => WatchHandle;

export interface InformerSink<T> {
  /** A complete list: the whole truth for this informer's scope. `first` for the first list. */
  listed(items: readonly T[], first: boolean, nowMs: number): void;
  changed(item: T, nowMs: number): void;
  deleted(item: T, nowMs: number): void;
}

export interface InformerTiming {
  /** No event (bookmarks included) for this long: the stream is presumed dead. */
  readonly stallMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Items per list page. */
  readonly pageSize: number;
  /** Time limit for one list page. */
  readonly listTimeoutMs: number;
}

/** How far one list may run, whatever the server says. */
export interface InformerLimits {
  /** Pages per list: no continue token lifts it. */
  readonly maxListPages: number;
  /** Items per list, every page together, decodable or not. */
  readonly maxListItems: number;
}

export interface InformerOptions<T> {
  /** `pods` or `nodes`: the `resource` label and the log field. */
  readonly resource: string;
  /** Where this informer looks, for logs: a namespace, or "" for the whole cluster. */
  readonly namespace: string;
  readonly watchPath: string;
  readonly list: Lister;
  readonly openWatch: WatchOpener;
  /** The object's snapshot, or null when it is malformed (counted as a `schema` rejection). */
  readonly decode: (raw: unknown) => T | null;
  readonly sink: InformerSink<T>;
  readonly timing: InformerTiming;
  readonly limits: InformerLimits;
  readonly rejections: Rejections;
  /** The `source` label of this informer's rejections. */
  readonly rejectionSource: RejectionSource;
  readonly onRestart: (resource: string) => void;
  readonly onEvent: (resource: string, atMs: number) => void;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
}

type WatchEnd =
  /** The server ended the watch at its timeout: watch again from where it stopped. */
  | { readonly kind: "timeout" }
  /** The stream ended cleanly before its time: watch again from where it stopped, no list. */
  | { readonly kind: "cut" }
  /** The resourceVersion is too old: list again. */
  | { readonly kind: "gone" }
  | { readonly kind: "failed"; readonly reason: string; readonly error?: unknown }
  | { readonly kind: "stopped" };

/** A watch that lived this long, or ended at the server's timeout, resets the backoff. */
const HEALTHY_WATCH_MS = 30_000;

class Stopped extends Error {}

/** A list past one of its limits: handled as a failed list. */
export class ListOverLimit extends Error {}

/** The watch event types that carry an object to apply; BOOKMARK and ERROR are handled apart. */
const OBJECT_EVENTS = new Set(["ADDED", "MODIFIED", "DELETED"]);

export class Informer<T> {
  private stopped = false;
  private loop: Promise<void> | null = null;
  /** Aborts whatever is in flight: a list page, a watch, or a backoff sleep. */
  private interrupt: (() => void) | null = null;
  private listedOnce = false;
  private lastHealthyMs: number | null = null;
  /** Unix ms of the last list or watch event, bookmarks included: what the stall limit measures. */
  private lastHeardMs = 0;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: InformerOptions<T>) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  start(): void {
    this.loop ??= this.run().catch((error: unknown) => {
      this.options.log.error({ err: error, resource: this.options.resource }, "Kubernetes informer stopped unexpectedly");
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.loop;
  }

  /** The first list has been applied. */
  get synced(): boolean {
    return this.listedOnce;
  }

  /** Unix ms of the last list, watch event or accepted watch; null before any. */
  get lastSuccessMs(): number | null {
    return this.lastHealthyMs;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let resourceVersion: string | null = null;
    while (!this.stopped) {
      if (resourceVersion === null) {
        try {
          resourceVersion = await this.listAll();
        } catch (error) {
          if (this.stopped) return;
          const gone = isGone(error);
          this.restart(gone ? "list continuation expired" : "list failed", error);
          // A 410 on a continue token needs a fresh list, not a pause, unless it keeps happening.
          if (!gone || attempt > 0) await this.sleep(this.backoffMs(attempt));
          attempt++;
          continue;
        }
      }
      const startedAt = this.now();
      const watched = await this.watch(resourceVersion);
      resourceVersion = watched.resourceVersion;
      // Watches that end on time or are cut, but carry nothing, not even a bookmark, are silent all
      // the same: past the stall limit, list again.
      const quiet = (watched.end.kind === "timeout" || watched.end.kind === "cut") && this.now() - this.lastHeardMs >= this.options.timing.stallMs;
      const end: WatchEnd = quiet ? { kind: "failed", reason: "watch stalled" } : watched.end;
      if (end.kind === "timeout" || this.now() - startedAt >= Math.min(HEALTHY_WATCH_MS, this.options.timing.stallMs)) attempt = 0;
      switch (end.kind) {
        case "stopped":
          return;
        case "timeout":
          continue;
        case "cut":
          // Nothing is lost: the resourceVersion still holds (a 410 on the next watch sends us to a
          // list), so a proxy cutting idle streams costs a watch request, not a list of everything.
          this.restart("watch stream ended early", undefined, "info");
          if (attempt > 0) await this.sleep(this.backoffMs(attempt));
          attempt++;
          continue;
        case "gone":
          resourceVersion = null;
          this.restart("resourceVersion expired");
          if (attempt > 0) await this.sleep(this.backoffMs(attempt));
          attempt++;
          continue;
        case "failed":
          resourceVersion = null;
          this.restart(end.reason, end.error);
          await this.sleep(this.backoffMs(attempt));
          attempt++;
          continue;
      }
    }
  }

  /** Lists every page, hands the snapshots over, returns the list's resourceVersion. */
  private async listAll(): Promise<string> {
    const { list, sink, timing, limits } = this.options;
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = "";
    let pages = 0;
    let received = 0;
    do {
      if (++pages > limits.maxListPages) throw new ListOverLimit(`list passed ${limits.maxListPages} pages (KUBE_MAX_LIST_PAGES)`);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timing.listTimeoutMs);
      this.interrupt = () => controller.abort();
      let page: ListPage;
      try {
        page = await list({ limit: timing.pageSize, continueToken, signal: controller.signal });
      } finally {
        clearTimeout(timer);
        this.interrupt = null;
      }
      if (this.stopped) throw new Stopped();
      // Every page of a chunked list is served from the first page's snapshot.
      if (continueToken === undefined) resourceVersion = page.resourceVersion;
      if (page.items.length > timing.pageSize) throw new ListOverLimit(`list page held ${page.items.length} items, ${timing.pageSize} were asked for`);
      received += page.items.length;
      if (received > limits.maxListItems) throw new ListOverLimit(`list passed ${limits.maxListItems} items (KUBE_MAX_LIST_ITEMS)`);
      for (const raw of page.items) {
        const item = this.decode(raw, "list");
        if (item !== null) items.push(item);
      }
      continueToken = page.continueToken || undefined;
    } while (continueToken !== undefined);
    const now = this.now();
    sink.listed(items, !this.listedOnce, now);
    this.listedOnce = true;
    this.healthy(now);
    this.options.onEvent(this.options.resource, now);
    this.lastHeardMs = now;
    this.options.log.debug({ resource: this.options.resource, namespace: this.options.namespace, items: items.length, resourceVersion }, "Kubernetes list applied");
    return resourceVersion;
  }

  /** One watch stream, until it ends one way or another. */
  private watch(fromVersion: string): Promise<{ end: WatchEnd; resourceVersion: string }> {
    const { openWatch, watchPath, sink, timing, resource } = this.options;
    return new Promise((resolve) => {
      let resourceVersion = fromVersion;
      let handle: WatchHandle | undefined;
      let settled = false;
      const startedAt = this.now();
      const timeoutSeconds = this.serverTimeoutSeconds();
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.interrupt = null;
        handle?.abort();
        resolve({ end, resourceVersion });
      };
      const watchdog = setTimeout(() => finish({ kind: "failed", reason: "watch stalled" }), timing.stallMs);
      this.interrupt = () => finish({ kind: "stopped" });

      const callbacks: WatchCallbacks = {
        opened: () => {
          if (!settled) this.healthy(this.now());
        },
        event: (type, object) => {
          if (settled) return;
          watchdog.refresh();
          if (type === "ERROR") {
            const status = object as { code?: unknown; message?: unknown } | null;
            if (status?.code === 410) return finish({ kind: "gone" });
            return finish({ kind: "failed", reason: `watch error ${String(status?.code ?? "")} ${String(status?.message ?? "")}`.trim() });
          }
          const now = this.now();
          resourceVersion = resourceVersionOf(object) ?? resourceVersion;
          this.healthy(now);
          this.options.onEvent(resource, now);
          this.lastHeardMs = now;
          if (type === "BOOKMARK") return;
          if (!OBJECT_EVENTS.has(type)) return this.reject("event_type", object, "watch", type);
          const item = this.decode(object, "watch", type);
          if (item === null) return;
          try {
            if (type === "DELETED") sink.deleted(item, now);
            else if (type === "ADDED" || type === "MODIFIED") sink.changed(item, now);
          } catch (error) {
            // A bug in applying one event must not stop the informer: start over from a list.
            finish({ kind: "failed", reason: "applying a watch event failed", error });
          }
        },
        done: (error) => {
          if (settled) return;
          if (this.stopped) return finish({ kind: "stopped" });
          if (error) return finish(isGone(error) ? { kind: "gone" } : { kind: "failed", reason: "watch failed", error });
          // A clean end near the requested timeout is the server's; earlier, the stream was cut.
          const lived = this.now() - startedAt;
          finish(lived >= timeoutSeconds * 900 ? { kind: "timeout" } : { kind: "cut" });
        },
      };
      handle = openWatch(watchPath, { resourceVersion: fromVersion, allowWatchBookmarks: true, timeoutSeconds }, callbacks);
      if (settled) handle.abort();
    });
  }

  /**
   * The server ends each watch after this long, before the watchdog would: a quiet resource
   * (nodes rarely change) is then re-watched cheaply instead of being taken for a stalled one.
   * Spread out so that the watches of many exporters do not end together.
   */
  private serverTimeoutSeconds(): number {
    const stallSeconds = this.options.timing.stallMs / 1000;
    return Math.max(1, Math.floor(stallSeconds * (0.5 + 0.25 * this.random())));
  }

  private backoffMs(attempt: number): number {
    const { retryInitialMs, retryMaxMs } = this.options.timing;
    const ceiling = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(attempt, 30));
    // Equal jitter: at least half the step, so retries still back off.
    return ceiling / 2 + (this.random() * ceiling) / 2;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.interrupt = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.interrupt = wake;
    });
  }

  /** The object's snapshot; a malformed object is counted and logged, never dropped in silence. */
  private decode(raw: unknown, via: "list" | "watch", eventType?: string): T | null {
    const item = this.options.decode(raw);
    if (item === null) this.reject("schema", raw, via, eventType);
    return item;
  }

  private reject(reason: string, raw: unknown, via: "list" | "watch", eventType?: string): void {
    const { rejections, rejectionSource, namespace } = this.options;
    rejections.reject(rejectionSource, reason, { via, eventType: eventType?.slice(0, 32), watchNamespace: namespace || undefined, ...identity(raw) });
  }

  private restart(reason: string, error?: unknown, level: "warn" | "info" = "warn"): void {
    const { resource, namespace, log, onRestart } = this.options;
    onRestart(resource);
    log[level]({ resource, namespace: namespace || undefined, reason, err: error instanceof Error ? error.message : error }, "Kubernetes watch restarting");
  }

  private healthy(atMs: number): void {
    this.lastHealthyMs = atMs;
  }
}

/** Names an object in a log line, from what of it can be read: strings only, cut short. */
function identity(raw: unknown): Record<string, string | undefined> {
  const meta = (raw as { metadata?: unknown } | null)?.metadata;
  if (typeof meta !== "object" || meta === null) return {};
  const field = (key: string) => {
    const value = (meta as Record<string, unknown>)[key];
    return typeof value === "string" ? value.slice(0, 253) : undefined;
  };
  return { name: field("name"), namespace: field("namespace"), uid: field("uid") };
}

/** 410 Gone: as an ERROR event's Status, a watch HTTP status, or a list ApiException. */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return statusCode === 410 || code === 410;
}
