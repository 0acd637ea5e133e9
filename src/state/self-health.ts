import type { WebhookOutcome } from "../domain/events.js";

/** Counts by a pair of label values, in the order first seen. */
export class PairCounts<A extends string, B extends string> {
  private readonly counts = new Map<string, { readonly labels: Readonly<Record<A | B, string>>; value: number }>();

  constructor(
    private readonly first: A,
    private readonly second: B,
  ) {}

  add(a: string, b: string, by = 1): void {
    const key = `${a}\u0000${b}`;
    const entry = this.counts.get(key);
    if (entry) entry.value += by;
    else this.counts.set(key, { labels: { [this.first]: a, [this.second]: b } as Record<A | B, string>, value: by });
  }

  *entries(): Iterable<readonly [Readonly<Record<A | B, string>>, number]> {
    for (const { labels, value } of this.counts.values()) yield [labels, value];
  }
}

/**
 * The exporter's view of itself: what its sources report of their own work (GitLab requests and
 * their outcomes, webhook deliveries, inputs refused, watch restarts, the last sync and event).
 * Sources report through their narrow callbacks, wired to these methods in the wiring; the
 * exporter-* families read it at scrape.
 */
export class SelfHealth {
  readonly gitlabRequests = new PairCounts("endpoint", "code");
  readonly webhookEvents = new PairCounts("event", "outcome");
  readonly invalidObjects = new PairCounts("source", "reason");
  /** Per watched resource, its restarts; a resource is here from its watch's start, at zero. */
  readonly watchRestarts = new Map<string, number>();
  /** Per watched resource, Unix ms of its last event or list. */
  readonly lastEventMs = new Map<string, number>();
  /** Unix ms of the last poll cycle in which every GitLab request succeeded; null before one. */
  lastGitLabSuccessMs: number | null = null;
  /** Watched projects by polling state; null until the poller first told. */
  projects: { readonly hot: number; readonly idle: number; readonly unread: number } | null = null;
  /** How live jobs are read (instance, sweep, rest); null until chosen. */
  readPath: string | null = null;
  readonly sweeps = new PairCounts("path", "outcome");
  /** The last sweep that read every project: when, and in how many requests. */
  lastSweep: { readonly atMs: number; readonly requests: number } | null = null;
  /** This replica's shard, of how many, and whether it does the shard's work now. */
  replica: { readonly shard: number; readonly totalShards: number; readonly active: boolean } = { shard: 0, totalShards: 1, active: true };
  /** Deliveries sent on to the replica that applies them, by outcome; both at zero from the start. */
  readonly webhookForwards = new Map<"delivered" | "failed", number>([
    ["delivered", 0],
    ["failed", 0],
  ]);

  gitlabRequest(endpoint: string, code: string): void {
    this.gitlabRequests.add(endpoint, code);
  }

  webhookForwarded(outcome: "delivered" | "failed"): void {
    this.webhookForwards.set(outcome, (this.webhookForwards.get(outcome) ?? 0) + 1);
  }

  webhookEvent(event: string, outcome: WebhookOutcome): void {
    this.webhookEvents.add(event, outcome);
  }

  invalidObject(source: string, reason: string): void {
    this.invalidObjects.add(source, reason);
  }

  gitlabSynced(atMs: number): void {
    this.lastGitLabSuccessMs = atMs;
  }

  watchedProjects(hot: number, idle: number, unread = 0): void {
    this.projects = { hot, idle, unread };
  }

  readPathChosen(path: string): void {
    this.readPath = path;
  }

  sweepEnded(path: string, outcome: "ok" | "failed", requests: number, atMs: number): void {
    this.sweeps.add(path, outcome);
    if (outcome === "ok") this.lastSweep = { atMs, requests };
  }

  /** Declares a resource's restarts at zero, so that `rate()` sees the first restart. */
  watchStarted(resource: string): void {
    if (!this.watchRestarts.has(resource)) this.watchRestarts.set(resource, 0);
  }

  watchRestarted(resource: string): void {
    this.watchRestarts.set(resource, (this.watchRestarts.get(resource) ?? 0) + 1);
  }

  /** A watch event arrived or a list succeeded. */
  eventSeen(resource: string, atMs: number): void {
    this.lastEventMs.set(resource, atMs);
  }
}
