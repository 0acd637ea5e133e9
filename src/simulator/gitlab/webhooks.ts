import { randomUUID } from "node:crypto";
import { jobHookBody, pipelineHookBody } from "./hook-bodies.js";
import { afterDelivery, HEALTHY, hookStatus, type AutoDisableRule, type HookHealthState, type HookStatus } from "./hook-health.js";
import type { SimJob, SimJobStatus, SimPipeline } from "./model.js";
import { sendsJobHook } from "./profile.js";
import type { GitLabWorld } from "./world.js";

export type HookEvent = "Job Hook" | "Pipeline Hook";

export interface HookTarget {
  readonly url: string;
  /** Sent as X-Gitlab-Token when set. */
  readonly token?: string;
  readonly events: { readonly job?: boolean; readonly pipeline?: boolean };
  /** Only these projects' events; all projects when absent. */
  readonly projectIds?: readonly number[];
}

export interface HookHandle {
  /** X-Gitlab-Webhook-UUID of this hook. */
  readonly uuid: string;
  /** Whether GitLab would still deliver to it (`WebHooks::AutoDisabling#alert_status`). */
  status(): HookStatus;
  remove(): void;
}

/** A hook GitLab has stopped delivering to, for now or for good. */
export interface DisabledHook {
  readonly uuid: string;
  readonly url: string;
  readonly status: Exclude<HookStatus, "executable">;
  readonly recentFailures: number;
  /** World-clock ms; null when disabled for good. */
  readonly disabledUntil: number | null;
}

export interface WebhookSenderOptions {
  /** Share of deliveries sent a second time with the same Idempotency-Key, as GitLab's retries do. */
  readonly duplicateRatio?: number;
  /** Wait before each delivery, to let polling see a change first. */
  readonly deliveryDelayMs?: number;
  /** While paused, changes are not delivered at all (a webhook outage); they are not caught up later. */
  readonly paused?: boolean;
  /**
   * Deliveries in flight per hook. Deliveries about one job (or one pipeline) always share a lane,
   * so they arrive in order whatever this is.
   */
  readonly concurrency?: number;
  /** GitLab gives up on a webhook after 10 s by default. */
  readonly timeoutMs?: number;
  /** X-Gitlab-Instance; the world's base URL by default. */
  readonly instanceUrl?: string;
  /**
   * Send a Job Hook for every change of a job, skipped, manual and the like included, instead of
   * only the transitions GitLab sends them for (`sendsJobHook`). Off by default.
   */
  readonly everyJobChange?: boolean;
  /**
   * How failing hooks are disabled (`hook-health.ts`): `current` by default on the GitLab.com
   * profile, `off` on a self-managed one (the `auto_disabling_web_hooks` flag is off there).
   */
  readonly autoDisable?: AutoDisableRule;
  /** Told of every delivery attempted, with when it was queued, sent and answered. */
  readonly onAttempt?: (attempt: DeliveryAttempt) => void;
}

/** One delivery attempted; times are `performance.now()` milliseconds. */
export interface DeliveryAttempt {
  readonly event: HookEvent;
  /** The job's or pipeline's id. */
  readonly key: number;
  /** The HTTP status, or null when there was no answer. */
  readonly status: number | null;
  /** When the change queued it (the world's transition). */
  readonly queuedAt: number;
  /** When its request began: it waited for the deliveries ahead of it in its lane until then. */
  readonly sentAt: number;
  /** When its answer (or its failure) was read. */
  readonly answeredAt: number;
}

export interface WebhookStats {
  /** Deliveries that got an HTTP answer, whatever its status. */
  sent: number;
  /** Deliveries that got no answer (connection refused, reset, timeout). */
  failed: number;
  /** Changes not delivered because the sender was paused. */
  dropped: number;
  /** Extra deliveries sent because of `duplicateRatio`. */
  duplicated: number;
  /** Answers by HTTP status. */
  readonly statuses: Map<number, number>;
  /** Deliveries not made because their hook was disabled. */
  skippedDisabled: number;
}

interface Delivery {
  readonly hook: Hook;
  readonly url: string;
  readonly event: HookEvent;
  readonly body: string;
  readonly headers: Record<string, string>;
  readonly key: number;
  readonly queuedAt: number;
}

interface Lane {
  readonly queue: Delivery[];
  running: Promise<void> | undefined;
  /** Deliveries ever queued in this lane, and ever attempted (or skipped): `settled` waits on these. */
  queued: number;
  attempted: number;
  readonly waiters: Array<{ readonly upTo: number; readonly resolve: () => void }>;
}

interface Hook extends HookTarget {
  readonly uuid: string;
  readonly projects: ReadonlySet<number> | undefined;
  readonly lanes: Lane[];
  health: HookHealthState;
}

export const GITLAB_USER_AGENT = "GitLab/17.6.0";
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Sends GitLab's Job Hook and Pipeline Hook deliveries for every change in a world,
 * asynchronously and in order per job, with GitLab's delivery headers. Bodies are built at the
 * moment of the change.
 */
export class WebhookSender {
  duplicateRatio: number;
  deliveryDelayMs: number;
  paused: boolean;
  readonly stats: WebhookStats = { sent: 0, failed: 0, dropped: 0, duplicated: 0, statuses: new Map(), skippedDisabled: 0 };
  private readonly hooks: Hook[] = [];
  /** Every time a hook went from executable to disabled, the oldest dropped past a thousand. */
  private readonly disablings: DisabledHook[] = [];
  private readonly draining = new Set<Promise<void>>();
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly instanceUrl: string;
  private readonly everyJobChange: boolean;
  private readonly autoDisable: AutoDisableRule;
  private readonly onAttempt: ((attempt: DeliveryAttempt) => void) | undefined;
  private duplicateDebt = 0;
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly world: GitLabWorld,
    options: WebhookSenderOptions = {},
  ) {
    this.duplicateRatio = options.duplicateRatio ?? 0;
    this.deliveryDelayMs = options.deliveryDelayMs ?? 0;
    this.paused = options.paused ?? false;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.instanceUrl = options.instanceUrl ?? world.baseUrl;
    this.everyJobChange = options.everyJobChange ?? false;
    this.autoDisable = options.autoDisable ?? (world.profile.deployment === "gitlab.com" ? "current" : "off");
    this.onAttempt = options.onAttempt;
    this.unsubscribe = [
      world.onJobChange((job, previous) => this.jobChanged(job, previous)),
      world.onPipelineChange((pipeline, _previous, jobs) => this.pipelineChanged(pipeline, jobs)),
    ];
  }

  addHook(target: HookTarget): HookHandle {
    const hook: Hook = {
      ...target,
      uuid: randomUUID(),
      projects: target.projectIds ? new Set(target.projectIds) : undefined,
      lanes: Array.from({ length: this.concurrency }, () => ({ queue: [], running: undefined, queued: 0, attempted: 0, waiters: [] })),
      health: HEALTHY,
    };
    this.hooks.push(hook);
    return {
      uuid: hook.uuid,
      status: () => hookStatus(this.autoDisable, hook.health, this.world.now()),
      remove: () => {
        const index = this.hooks.indexOf(hook);
        if (index >= 0) this.hooks.splice(index, 1);
      },
    };
  }

  /** Resolves when every queued delivery has been attempted, removed hooks' included. */
  async flush(): Promise<void> {
    while (this.draining.size > 0) await Promise.all([...this.draining]);
  }

  /**
   * Resolves once every delivery queued so far about `key` (a job's or a pipeline's id) has been
   * attempted, whatever was queued after it. Unlike `flush`, it does not wait for the sender to
   * fall idle, which a steady stream of changes elsewhere may never let it do.
   */
  async settled(key: number): Promise<void> {
    await Promise.all(
      this.hooks.map((hook) => {
        const lane = hook.lanes[key % hook.lanes.length]!;
        if (lane.attempted >= lane.queued) return undefined;
        return new Promise<void>((resolve) => lane.waiters.push({ upTo: lane.queued, resolve }));
      }),
    );
  }

  /** Deliveries queued and not attempted yet, the ones in flight included. */
  get backlog(): number {
    let waiting = 0;
    for (const hook of this.hooks) for (const lane of hook.lanes) waiting += lane.queued - lane.attempted;
    return waiting;
  }

  /** The hooks GitLab would not deliver to now, so a test can assert the exporter's never is. */
  disabledHooks(): DisabledHook[] {
    const now = this.world.now();
    return this.hooks.map((hook) => this.disabledNow(hook, now)).filter((hook) => hook !== undefined);
  }

  /**
   * Every time a hook was disabled, even if it was enabled again since (a temporary disabling
   * ends after its backoff), as it was at that moment.
   */
  everDisabled(): readonly DisabledHook[] {
    return [...this.disablings];
  }

  /** Stops listening to the world; queued deliveries still go out. */
  detach(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private jobChanged(job: SimJob, previous: SimJobStatus | null): void {
    if (!this.everyJobChange && !sendsJobHook(previous, job.status)) return;
    const hooks = this.hooks.filter((h) => h.events.job && (!h.projects || h.projects.has(job.projectId)));
    if (hooks.length === 0) return;
    this.fanOut(hooks, "Job Hook", job.id, () => jobHookBody(this.world, job));
  }

  private pipelineChanged(pipeline: SimPipeline, jobs: readonly SimJob[]): void {
    const hooks = this.hooks.filter((h) => h.events.pipeline && (!h.projects || h.projects.has(pipeline.projectId)));
    if (hooks.length === 0) return;
    this.fanOut(hooks, "Pipeline Hook", pipeline.id, () => pipelineHookBody(this.world, pipeline, jobs));
  }

  /** Runs inside the world's transition: it must never throw back into it. */
  private fanOut(hooks: readonly Hook[], event: HookEvent, key: number, build: () => unknown): void {
    if (this.paused) {
      this.stats.dropped += hooks.length;
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(build());
    } catch {
      this.stats.failed += hooks.length;
      return;
    }
    // One change, one event UUID, shared by every hook it triggers.
    const eventUuid = randomUUID();
    for (const hook of hooks) {
      const headers = deliveryHeaders(event, this.instanceUrl, hook.uuid, eventUuid, hook.token);
      const delivery: Delivery = { hook, url: hook.url, event, body, headers, key, queuedAt: performance.now() };
      const lane = hook.lanes[key % hook.lanes.length]!;
      lane.queue.push(delivery);
      lane.queued++;
      // Deterministic duplicates: the ratio accumulates and every whole unit re-sends one delivery.
      this.duplicateDebt += this.duplicateRatio;
      if (this.duplicateDebt >= 1) {
        this.duplicateDebt -= 1;
        this.stats.duplicated++;
        lane.queue.push(delivery);
        lane.queued++;
      }
      this.kick(lane);
    }
  }

  private kick(lane: Lane): void {
    if (lane.running) return;
    const running = this.drain(lane).finally(() => {
      lane.running = undefined;
      this.draining.delete(running);
      // A delivery queued between the drain's last check and now still needs a drain.
      if (lane.queue.length > 0) this.kick(lane);
    });
    lane.running = running;
    this.draining.add(running);
  }

  private async drain(lane: Lane): Promise<void> {
    for (let delivery = lane.queue.shift(); delivery; delivery = lane.queue.shift()) {
      await this.attempt(delivery);
      lane.attempted++;
      for (const waiter of lane.waiters.filter((w) => w.upTo <= lane.attempted)) {
        lane.waiters.splice(lane.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  private async attempt(delivery: Delivery): Promise<void> {
    if (this.deliveryDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.deliveryDelayMs));
    const { hook } = delivery;
    // WebHookService#execute: "Hook disabled", nothing is sent.
    if (hookStatus(this.autoDisable, hook.health, this.world.now()) !== "executable") {
      this.stats.skippedDisabled++;
      return;
    }
    let answered: number | null = null;
    const sentAt = performance.now();
    try {
      const { status } = await post(delivery.url, delivery.body, delivery.headers, this.timeoutMs);
      answered = status;
      this.stats.sent++;
      this.stats.statuses.set(status, (this.stats.statuses.get(status) ?? 0) + 1);
    } catch {
      this.stats.failed++;
    }
    hook.health = afterDelivery(this.autoDisable, hook.health, answered, this.world.now());
    const disabled = this.disabledNow(hook, this.world.now());
    if (disabled) {
      if (this.disablings.length >= 1000) this.disablings.shift();
      this.disablings.push(disabled);
    }
    this.onAttempt?.({ event: delivery.event, key: delivery.key, status: answered, queuedAt: delivery.queuedAt, sentAt, answeredAt: performance.now() });
  }

  /** The hook as disabled now, or undefined while GitLab would still deliver to it. */
  private disabledNow(hook: Hook, now: number): DisabledHook | undefined {
    const status = hookStatus(this.autoDisable, hook.health, now);
    if (status === "executable") return undefined;
    return { uuid: hook.uuid, url: hook.url, status, recentFailures: hook.health.recentFailures, disabledUntil: status === "disabled" ? null : hook.health.disabledUntil };
  }
}

/** GitLab's delivery headers (doc/user/project/integrations/webhooks.md, "Delivery headers"). */
export function deliveryHeaders(event: HookEvent, instanceUrl: string, webhookUuid: string, eventUuid: string, token?: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": GITLAB_USER_AGENT,
    "x-gitlab-event": event,
    "x-gitlab-instance": instanceUrl,
    "x-gitlab-webhook-uuid": webhookUuid,
    "x-gitlab-event-uuid": eventUuid,
    "idempotency-key": randomUUID(),
  };
  if (token !== undefined) headers["x-gitlab-token"] = token;
  return headers;
}

/**
 * Sends one hand-made delivery with GitLab's headers (fresh UUIDs, an Idempotency-Key), any of
 * which `headers` may override, e.g. to replay a delivery with the same key.
 */
export async function deliver(
  url: string,
  event: HookEvent,
  body: unknown,
  headers: Record<string, string> = {},
  options: { readonly instanceUrl?: string; readonly timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const base = deliveryHeaders(event, options.instanceUrl ?? "https://gitlab.example.com", randomUUID(), randomUUID());
  const lowered = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return post(url, typeof body === "string" ? body : JSON.stringify(body), { ...base, ...lowered }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
}
