import type { Logger } from "pino";
import { backoffMs } from "../../lib/backoff.js";
import type { RejectionSource, Rejections } from "../../lib/rejections.js";
import { sleep } from "../../lib/sleep.js";
import { kubeFailureHint } from "./failure-hint.js";
import { isGone, type Lister, type WatchOpener } from "./list-watch.js";
import { listAllPages, type ListLimits } from "./paged-list.js";
import { watchOnce, type WatchEnd, type WatchResult } from "./watch-once.js";

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
 * The loop: list (in pages, `paged-list.ts`) → hand the snapshots over as the full truth → watch from the list's
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
  readonly limits: ListLimits;
  readonly rejections: Rejections;
  /** The `source` label of this informer's rejections. */
  readonly rejectionSource: RejectionSource;
  readonly onRestart: (resource: string) => void;
  readonly onEvent: (resource: string, atMs: number) => void;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** A watch that lived this long, or ended at the server's timeout, resets the backoff. */
const HEALTHY_WATCH_MS = 30_000;

/** The watch event types that carry an object to apply; BOOKMARK and ERROR are handled apart. */
const OBJECT_EVENTS = new Set(["ADDED", "MODIFIED", "DELETED"]);

export class Informer<T> {
  /** Aborted by `stop()`: ends whatever is in flight, a list page, a watch or a backoff sleep. */
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
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
    this.stopping.abort();
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

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
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
    const { list, sink, timing, limits, resource, namespace } = this.options;
    const { items, resourceVersion } = await listAllPages({
      list,
      pageSize: timing.pageSize,
      pageTimeoutMs: timing.listTimeoutMs,
      limits,
      decode: (raw) => this.decode(raw, "list"),
      stop: this.stopping.signal,
    });
    const now = this.now();
    sink.listed(items, !this.listedOnce, now);
    this.listedOnce = true;
    this.heard(now);
    this.options.log.debug({ resource, namespace, items: items.length, resourceVersion }, "Kubernetes list applied");
    return resourceVersion;
  }

  /** One watch stream, until it ends one way or another. */
  private watch(fromVersion: string): Promise<WatchResult> {
    const { openWatch, watchPath, timing } = this.options;
    return watchOnce({
      openWatch,
      path: watchPath,
      fromVersion,
      timeoutSeconds: this.serverTimeoutSeconds(),
      stallMs: timing.stallMs,
      stop: this.stopping.signal,
      now: this.now,
      opened: (atMs) => this.healthy(atMs),
      heard: (atMs) => this.heard(atMs),
      received: (type, object, atMs) => this.apply(type, object, atMs),
    });
  }

  /** A watch event's object, handed to the sink; an unknown event type or a malformed object is counted. */
  private apply(type: string, object: unknown, atMs: number): void {
    if (!OBJECT_EVENTS.has(type)) return this.reject("event_type", object, "watch", type);
    const item = this.decode(object, "watch", type);
    if (item === null) return;
    if (type === "DELETED") this.options.sink.deleted(item, atMs);
    else this.options.sink.changed(item, atMs);
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
    return backoffMs(attempt, { initialMs: retryInitialMs, maxMs: retryMaxMs }, this.random);
  }

  /** Waits `ms`, or less when the informer is stopped meanwhile. */
  private async sleep(ms: number): Promise<void> {
    await sleep(ms, this.stopping.signal).catch(() => undefined);
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
    const hint = kubeFailureHint(error, resource, namespace);
    log[level]({ resource, namespace: namespace || undefined, reason, err: error instanceof Error ? error.message : error, ...(hint ? { hint } : {}) }, "Kubernetes watch restarting");
  }

  private healthy(atMs: number): void {
    this.lastHealthyMs = atMs;
  }

  /** A list or a watch event, bookmarks included: a sign of life the stall limit measures from. */
  private heard(atMs: number): void {
    this.healthy(atMs);
    this.options.onEvent(this.options.resource, atMs);
    this.lastHeardMs = atMs;
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
