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

/**
 * Sends deliveries on to the replica that applies them, over the StatefulSet's headless Service
 * (each replica has its own name). A shard's replicas are tried in turn, the one that last took
 * a delivery first: a standby refuses with 421, a replica stopping answers 503, one restarting
 * does not answer. Each try waits at most `timeoutMs`, and none follows a redirect, so GitLab's
 * token goes nowhere else.
 */
export class WebhookForwarder {
  /** Per shard, the base URL that last applied one of its deliveries. */
  private readonly lastTaker = new Map<number, string>();

  constructor(
    private readonly routing: ShardRouting,
    private readonly options: { readonly timeoutMs: number; readonly self: string },
  ) {}

  /** Sends the delivery on; true once a replica of the project's shard applied it. */
  async forward(projectId: number, headers: IncomingHttpHeaders, body: unknown): Promise<boolean> {
    const shard = this.routing.shardOf(projectId);
    const peers = [...this.routing.peersOf(shard)];
    const last = this.lastTaker.get(shard);
    if (last !== undefined && peers.includes(last)) peers.sort((a, b) => Number(b === last) - Number(a === last));
    const payload = JSON.stringify(body);
    for (const peer of peers) {
      if (await this.send(peer, headers, payload)) {
        this.lastTaker.set(shard, peer);
        return true;
      }
    }
    return false;
  }

  private async send(peer: string, headers: IncomingHttpHeaders, payload: string): Promise<boolean> {
    const passed: Record<string, string> = { [FORWARDED_HEADER]: this.options.self };
    for (const name of PASSED_HEADERS) {
      const value = headers[name];
      const first = Array.isArray(value) ? value[0] : value;
      if (first !== undefined) passed[name] = first;
    }
    passed["content-type"] ??= "application/json";
    try {
      const response = await fetch(`${peer}/webhooks/gitlab`, { method: "POST", headers: passed, body: payload, redirect: "manual", signal: AbortSignal.timeout(this.options.timeoutMs) });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }
}
