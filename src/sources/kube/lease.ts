import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describeError } from "../../lib/errors.js";
import { sleep } from "../../lib/sleep.js";

/** The Lease calls the elector makes, as client-node's `CoordinationV1Api` offers them. */
export type LeaseApi = Pick<CoordinationV1Api, "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease">;

export interface LeaseElectorOptions {
  readonly api: LeaseApi;
  readonly namespace: string;
  readonly name: string;
  /** This replica in the Lease's `holderIdentity`: its pod name. */
  readonly identity: string;
  readonly durationMs: number;
  /** Stand down when the Lease cannot be renewed in time (true when absent): false for a replica with nobody to take over. */
  readonly standDown?: boolean;
  readonly log: Logger;
  readonly now?: () => number;
  /**
   * This replica now holds the Lease. `sinceMs`: the previous holder's last renewal as it wrote
   * it (or its release), from which the work it can no longer do is this replica's; null when
   * nobody held it before.
   */
  readonly onStartedLeading: (sinceMs: number | null) => void;
  /** This replica no longer holds the Lease (it could not renew it in time, or another took it). */
  readonly onStoppedLeading: () => void;
}

/** What a standby saw of the Lease the last time it changed. */
interface Observed {
  readonly resourceVersion: string;
  readonly holder: string;
  /** When this replica saw this version first (its clock). */
  readonly observedAtMs: number;
  /** Until when the holder holds it, by this replica's reckoning. */
  readonly heldUntilMs: number;
  /** The holder's last renewal as this replica reckons it, for when it may take over. */
  readonly renewedAtMs: number;
  /** The holder's last renewal as it wrote it (never after now): from when the work is this replica's. */
  readonly writtenAtMs: number;
}

/** An API call that does not answer within this part of the Lease duration counts as failed. */
const CALL_TIMEOUT_SHARE = 1 / 3;

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's `leaderelection` with a
 * `LeaseLock` does it, through client-node. The holder renews every fifth of the duration and
 * stands down when it could not for two thirds of it, before anyone may take over. A standby
 * reads the Lease every fifth of the duration and takes it over, by an update naming the version
 * it read (so of two standbys one wins, the other gets 409 Conflict), once the holder's last
 * renewal is a duration old. The renewal is the holder's `renewTime`, trusted only within one
 * reading interval of when this replica saw it change: a holder's clock cannot make a standby
 * take over early by more than that, and a holder that died right after renewing is replaced a
 * duration after that renewal. On stop, a holder releases the Lease (no holder, one second), so
 * a standby takes over at its next reading rather than a duration later.
 */
export class LeaseElector {
  private readonly retryMs: number;
  private readonly renewDeadlineMs: number;
  /** Whole seconds, as the Lease's `leaseDurationSeconds` tells it. */
  private readonly durationMs: number;
  private readonly now: () => number;
  private readonly abort = new AbortController();
  private observed: Observed | null = null;
  private leading = false;
  private lastRenewMs = 0;
  private current: V1Lease | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: LeaseElectorOptions) {
    this.durationMs = Math.max(1, Math.ceil(options.durationMs / 1000)) * 1000;
    this.retryMs = this.durationMs / 5;
    this.renewDeadlineMs = (this.durationMs * 2) / 3;
    this.now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops electing; a holder releases the Lease unless told not to (a test's crash). */
  async stop(options: { readonly release: boolean } = { release: true }): Promise<void> {
    this.abort.abort();
    await this.running;
    if (!options.release || !this.leading || !this.current) return;
    this.leading = false;
    const released = this.leaseFor("", 1_000, this.current);
    await this.call(() => this.options.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: released })).catch((error: unknown) => {
      this.options.log.warn({ err: describeError(error), lease: this.options.name }, "could not release the shard's Lease; a standby takes over once it expires");
    });
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      let waitMs = this.retryMs;
      try {
        waitMs = await this.round();
      } catch (error) {
        // 409: another replica wrote the Lease first; the next reading tells who holds it.
        const level = statusOf(error) === 409 ? "debug" : "warn";
        this.options.log[level]({ err: describeError(error), lease: this.options.name }, "shard Lease: request failed");
      }
      if (this.leading && this.options.standDown !== false && this.now() - this.lastRenewMs > this.renewDeadlineMs) this.stopLeading("could not renew the shard's Lease in time");
      await sleep(Math.max(1, waitMs), signal).catch(() => undefined);
    }
  }

  /** One reading (and renewal or takeover); returns how long to wait before the next. */
  private async round(): Promise<number> {
    const { api, name, namespace } = this.options;
    const lease = await this.call(() => api.readNamespacedLease({ name, namespace })).catch((error: unknown) => {
      if (statusOf(error) === 404) return null;
      throw error;
    });
    if (lease === null) {
      this.current = await this.call(() => api.createNamespacedLease({ namespace, body: this.leaseFor(this.options.identity, this.durationMs, null) }));
      this.renewed(null);
      return this.retryMs;
    }
    this.current = lease;
    const holder = lease.spec?.holderIdentity ?? "";
    if (holder === this.options.identity) {
      // Held already: renewed, or, for a pod restarted under the same name, taken back at once.
      const before = Math.min(this.now(), timeMs(lease.spec?.renewTime) ?? this.now());
      await this.update(this.leaseFor(holder, this.durationMs, lease));
      this.renewed(before);
      return this.retryMs;
    }
    if (this.leading) this.stopLeading(`the shard's Lease is held by ${holder || "nobody"} now`);
    const seen = this.observe(lease, holder);
    if (holder !== "" && this.now() < seen.heldUntilMs) return Math.min(this.retryMs, seen.heldUntilMs - this.now() + 1);
    await this.update(this.leaseFor(this.options.identity, this.durationMs, lease, true));
    this.options.log.info({ lease: name, previous: holder || null, renewedAgoMs: this.now() - seen.writtenAtMs }, "took over the shard's Lease");
    this.renewed(seen.writtenAtMs);
    return this.retryMs;
  }

  /** This replica holds the Lease as of now; `sinceMs` is when its predecessor last renewed it. */
  private renewed(sinceMs: number | null): void {
    this.lastRenewMs = this.now();
    if (this.leading) return;
    this.leading = true;
    this.options.log.info({ lease: this.options.name, identity: this.options.identity }, "holding the shard's Lease: this replica is active");
    this.options.onStartedLeading(sinceMs);
  }

  private stopLeading(reason: string): void {
    this.leading = false;
    this.options.log.warn({ lease: this.options.name, reason }, "no longer holding the shard's Lease: standing by");
    this.options.onStoppedLeading();
  }

  private observe(lease: V1Lease, holder: string): Observed {
    const version = lease.metadata?.resourceVersion ?? "";
    if (this.observed?.resourceVersion === version) return this.observed;
    const now = this.now();
    const written = timeMs(lease.spec?.renewTime);
    // The holder's word, within one reading interval of when this replica saw the change.
    const renewedAtMs = written === null ? now : Math.min(now, Math.max(written, now - this.retryMs));
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    this.observed = { resourceVersion: version, holder, observedAtMs: now, renewedAtMs, heldUntilMs: renewedAtMs + durationMs, writtenAtMs: Math.min(now, written ?? now) };
    return this.observed;
  }

  private async update(body: V1Lease): Promise<void> {
    const { api, name, namespace } = this.options;
    this.current = await this.call(() => api.replaceNamespacedLease({ name, namespace, body }));
  }

  /** The Lease held by `holder` from now, updating `previous` (its version and counters) when given. */
  private leaseFor(holder: string, durationMs: number, previous: V1Lease | null, takingOver = false): V1Lease {
    const now = new V1MicroTime(this.now());
    const spec = previous?.spec ?? {};
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { ...(previous?.metadata ?? {}), name: this.options.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: Math.max(1, Math.ceil(durationMs / 1000)),
        acquireTime: previous === null || takingOver ? now : (spec.acquireTime ?? now),
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
      },
    };
  }

  /** An API call bounded in time: a hanging API server must not hold the Lease's timing. */
  private call<T>(request: () => Promise<T>): Promise<T> {
    const limitMs = Math.max(500, this.durationMs * CALL_TIMEOUT_SHARE);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the Kubernetes API did not answer within ${limitMs} ms`)), limitMs);
    });
    return Promise.race([request(), timeout]).finally(() => clearTimeout(timer));
  }
}

/** The Lease API of the cluster the KubeConfig names. */
export function leaseApi(kubeConfig: KubeConfig): LeaseApi {
  return kubeConfig.makeApiClient(CoordinationV1Api);
}

/** client-node hands `MicroTime` fields over as the API server wrote them: a string. */
function timeMs(value: unknown): number | null {
  const ms = typeof value === "string" ? Date.parse(value) : value instanceof Date ? value.getTime() : NaN;
  return Number.isFinite(ms) ? ms : null;
}

/** The HTTP status of a client-node error, if it has one. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
