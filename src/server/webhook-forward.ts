import type { IncomingHttpHeaders } from "node:http";

/**
 * A delivery another replica sent on carries this header: it is applied where it lands, or
 * refused with 421 when this replica does not apply its project's deliveries, never sent on again.
 */
export const FORWARDED_HEADER = "x-gitlab-ci-exporter-forwarded";

/** GitLab's headers passed on with a delivery: the token is checked again by the replica that applies it. */
const PASSED_HEADERS = ["content-type", "x-gitlab-event", "x-gitlab-token", "idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid", "x-gitlab-instance", "user-agent"];

/** Which replica applies a project's deliveries, as this replica knows it now. */
export interface ShardRouting {
  /** The shard of a project. */
  shardOf(projectId: number): number;
  /** This replica's shard. */
  readonly shard: number;
  /** Whether this replica applies its shard's deliveries now: it is the shard's active replica. */
  active(): boolean;
  /** Base URLs of a shard's replicas, lowest ordinal first, this replica left out. */
  peersOf(shard: number): readonly string[];
}

/** Where a delivery about a project goes: applied here, or sent on to its shard's replicas. */
export type Placement = "here" | "own-shard" | "other-shard";

export function placementOf(routing: ShardRouting, projectId: number): Placement {
  const shard = routing.shardOf(projectId);
  if (shard !== routing.shard) return "other-shard";
  return routing.active() ? "here" : "own-shard";
}

export interface ForwarderOptions {
  /** The longest wait for one replica to take a delivery. */
  readonly timeoutMs: number;
  /** This replica, in the forwarded header. */
  readonly self: string;
  /** How long a delivery no replica took is held and tried again. */
  readonly holdMs: number;
  /** Body bytes held at most, all deliveries together; past it a delivery is not held. */
  readonly maxHeldBytes: number;
  /** How often held deliveries are tried again. */
  readonly retryEveryMs: number;
  readonly now?: () => number;
}

/** A delivery waiting for its shard to answer, and what to do when it does or never does. */
interface Held {
  readonly projectId: number;
  readonly headers: Record<string, string>;
  readonly payload: string;
  readonly untilMs: number;
  readonly settled: (delivered: boolean) => void;
}

/**
 * Sends deliveries on to the replica that applies them, over the StatefulSet's headless Service
 * (each replica has its own name). A shard's replicas are tried in turn, the one that last took
 * a delivery first: a standby refuses with 421, a replica stopping answers 503, one restarting
 * does not answer. Each try waits at most `timeoutMs`, and none follows a redirect, so GitLab's
 * token goes nowhere else. A delivery no replica took is held, within a byte budget, and tried
 * again until its shard answers (a restarted replica counts from its predecessor's last renewal
 * of the shard's Lease, so what it is handed then counts once) or `holdMs` has passed.
 */
export class WebhookForwarder {
  /** Per shard, the base URL that last applied one of its deliveries. */
  private readonly lastTaker = new Map<number, string>();
  private held: Held[] = [];
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private retrying = false;

  constructor(
    private readonly routing: ShardRouting,
    private readonly options: ForwarderOptions,
  ) {}

  /** Sends the delivery on now; true once a replica of the project's shard applied it. */
  async forward(projectId: number, headers: IncomingHttpHeaders, body: unknown): Promise<boolean> {
    return this.deliver(projectId, this.passed(headers), JSON.stringify(body));
  }

  /**
   * Holds a delivery no replica took and tries it again; `settled` tells, once, whether it was
   * delivered in the end. False when there is no room for it: the caller settles it.
   */
  hold(projectId: number, headers: IncomingHttpHeaders, body: unknown, settled: (delivered: boolean) => void): boolean {
    const payload = JSON.stringify(body);
    if (this.heldBytes + payload.length > this.options.maxHeldBytes) return false;
    this.held.push({ projectId, headers: this.passed(headers), payload, untilMs: this.now() + this.options.holdMs, settled });
    this.heldBytes += payload.length;
    this.timer ??= setInterval(() => void this.retry(), this.options.retryEveryMs);
    this.timer.unref();
    return true;
  }

  /** Deliveries held now. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Stops retrying; what is still held is settled as not delivered. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const held of this.held.splice(0)) held.settled(false);
    this.heldBytes = 0;
  }

  /** One pass over the held deliveries, in order; a shard that did not answer is not asked again in the pass. */
  private async retry(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      const silent = new Set<number>();
      for (const held of [...this.held]) {
        const shard = this.routing.shardOf(held.projectId);
        const delivered = !silent.has(shard) && (await this.deliver(held.projectId, held.headers, held.payload));
        if (!delivered) silent.add(shard);
        if (delivered || this.now() >= held.untilMs) this.release(held, delivered);
      }
    } finally {
      this.retrying = false;
    }
  }

  private release(held: Held, delivered: boolean): void {
    const at = this.held.indexOf(held);
    if (at < 0) return;
    this.held.splice(at, 1);
    this.heldBytes -= held.payload.length;
    if (this.held.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    held.settled(delivered);
  }

  private async deliver(projectId: number, headers: Record<string, string>, payload: string): Promise<boolean> {
    const shard = this.routing.shardOf(projectId);
    const peers = [...this.routing.peersOf(shard)];
    const last = this.lastTaker.get(shard);
    if (last !== undefined && peers.includes(last)) peers.sort((a, b) => Number(b === last) - Number(a === last));
    for (const peer of peers) {
      if (await this.send(peer, headers, payload)) {
        this.lastTaker.set(shard, peer);
        return true;
      }
    }
    return false;
  }

  private passed(headers: IncomingHttpHeaders): Record<string, string> {
    const passed: Record<string, string> = { [FORWARDED_HEADER]: this.options.self };
    for (const name of PASSED_HEADERS) {
      const value = headers[name];
      const first = Array.isArray(value) ? value[0] : value;
      if (first !== undefined) passed[name] = first;
    }
    passed["content-type"] ??= "application/json";
    return passed;
  }

  private async send(peer: string, headers: Record<string, string>, payload: string): Promise<boolean> {
    try {
      const response = await fetch(`${peer}/webhooks/gitlab`, { method: "POST", headers, body: payload, redirect: "manual", signal: AbortSignal.timeout(this.options.timeoutMs) });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
