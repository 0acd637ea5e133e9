import { inferRemovalReason, stronger, type RemovalReason } from "../domain/node.js";
import type { SpotNodeChanged, SpotNodeRemoved } from "../domain/events.js";
import type { NodeSnapshot } from "../domain/pod.js";
import { Listeners } from "../lib/listeners.js";


interface NodeRecord {
  /** The latest state, whose taints are the signs the node shows now. */
  snapshot: NodeSnapshot;
  /** The latest sign told by a pod on the node (failed by node shutdown), and when that pod ended. */
  podSign: { readonly reason: RemovalReason; readonly atMs: number } | null;
}

/**
 * How long a pod failed by node shutdown stands as a sign for its node, unless the node reports
 * Ready again after it (it rebooted): graceful shutdown takes a few minutes at most, after which
 * the node is gone or back. A failure older than this is a leftover, not news.
 */
export const POD_SIGN_MAX_AGE_MS = 15 * 60_000;

/**
 * How long a removed node's reason is remembered for the pods that were on it: PodGC deletes the
 * pods of a vanished node within a minute or so, a terminating pod on an unreachable node may
 * take a few minutes longer.
 */
export const REMOVED_NODE_MEMORY_MS = 15 * 60_000;

/** Where a node stood: its node group and zone. */
export interface NodePlacement {
  readonly nodegroup: string;
  readonly zone: string;
}

const UNKNOWN_PLACEMENT: NodePlacement = { nodegroup: "", zone: "" };

/**
 * Every node, spot or not (a job pod can be interrupted on any node), and the signs each node
 * shows of its way out. Only signs standing now count: cluster-autoscaler and Karpenter take their
 * taints back when they cancel a scale-down or a disruption, and a node that stays took no pod
 * down. A node that goes is given the strongest sign standing when it went. Applying the same
 * snapshot twice changes nothing; a re-list converges.
 */
export class NodeStore {
  private readonly nodes = new Map<string, NodeRecord>();
  /**
   * Whether this shard exports the node's series (every node when absent): every shard keeps
   * every node, for its pods' sake, and tells of a spot node only when it exports it.
   */
  private readonly exports: (name: string) => boolean;
  /**
   * Recently removed nodes → the reason they went, for pods deleted after their node, and whether
   * the removal was seen as it happened or only found missing at a re-list.
   */
  private readonly removed = new Map<string, { readonly reason: RemovalReason; readonly atMs: number; readonly seen: boolean; readonly node: NodeSnapshot }>();
  /** A spot node appeared, changed its labels or went away. */
  readonly onSpotNodeChanged = new Listeners<SpotNodeChanged>();
  /** A spot node disappeared: observed once per node. */
  readonly onSpotNodeRemoved = new Listeners<SpotNodeRemoved>();
  /**
   * The nodes changed (an update, a deletion, a re-list), at the time given: a removal sign that
   * just arrived may decide interruptions waiting on it. Once per call, after the change.
   */
  readonly onChanged = new Listeners<number>();

  constructor(options: { readonly exports?: (name: string) => boolean } = {}) {
    this.exports = options.exports ?? (() => true);
  }

  upsert(snapshot: NodeSnapshot, nowMs: number): void {
    this.apply(snapshot, nowMs);
    this.onChanged.emit(nowMs);
  }

  /** A node was deleted; `final` is its last state (the watch's DELETED object). */
  remove(final: NodeSnapshot, nowMs: number): void {
    const record = this.nodes.get(final.name);
    if (!record || record.snapshot.uid !== final.uid) return;
    record.snapshot = final;
    this.removeRecord(record, nowMs, true);
    this.onChanged.emit(nowMs);
  }

  /** A full list: nodes missing from it went away while the watch was down. */
  replaceAll(snapshots: readonly NodeSnapshot[], nowMs: number): void {
    const listed = new Map(snapshots.map((s) => [s.name, s.uid]));
    for (const record of [...this.nodes.values()]) {
      if (listed.get(record.snapshot.name) !== record.snapshot.uid) this.removeRecord(record, nowMs, false);
    }
    for (const snapshot of snapshots) this.apply(snapshot, nowMs);
    this.onChanged.emit(nowMs);
  }

  /**
   * A sign told by a pod on the node (failed by node shutdown) that ended at `atMs`. A failure
   * older than `POD_SIGN_MAX_AGE_MS`, or from before this node object existed, tells nothing.
   */
  noteEvidence(nodeName: string, reason: RemovalReason, atMs: number, nowMs: number): void {
    const record = this.nodes.get(nodeName);
    if (!record || nowMs - atMs > POD_SIGN_MAX_AGE_MS) return;
    if (record.snapshot.createdAtMs !== null && atMs < record.snapshot.createdAtMs) return;
    const previous = record.podSign;
    if (previous === null || atMs >= previous.atMs) record.podSign = { reason: stronger(previous?.reason ?? null, reason)!, atMs };
  }

  /**
   * Whether a pod on this node lost it: the node's removal reason when the node is going now (a
   * removal sign standing, or being deleted) or went recently ("unknown" without a sign); null
   * when the node stays or is not known to have gone.
   */
  departure(nodeName: string, nowMs: number, options: { podSeenGoing: boolean } = { podSeenGoing: true }): RemovalReason | null {
    if (nodeName === "") return null;
    const record = this.nodes.get(nodeName);
    if (record) return signOf(record, nowMs) ?? (record.snapshot.deletingSinceMs !== null ? "unknown" : null);
    const removed = this.removed.get(nodeName);
    if (!removed || nowMs - removed.atMs > REMOVED_NODE_MEMORY_MS) return null;
    // A node without a sign and a pod both found gone at re-lists: which went first is unknown, and
    // an autoscaler removes nodes after their jobs ended, so the pod is not taken for a victim.
    if (removed.reason === "unknown" && !removed.seen && !options.podSeenGoing) return null;
    return removed.reason;
  }

  /** The node group and zone of a live or recently removed node; "" for a node not known. */
  placement(nodeName: string): NodePlacement {
    const node = this.nodes.get(nodeName)?.snapshot;
    if (node) return { nodegroup: node.nodegroup, zone: node.zone };
    const removed = this.removed.get(nodeName)?.node;
    return removed ? { nodegroup: removed.nodegroup, zone: removed.zone } : UNKNOWN_PLACEMENT;
  }

  get(name: string): NodeSnapshot | undefined {
    return this.nodes.get(name)?.snapshot;
  }

  /** A node of that name that went lately: its last state, and when it was found gone. */
  removedLately(name: string, nowMs: number): { readonly node: NodeSnapshot; readonly atMs: number } | undefined {
    const removed = this.removed.get(name);
    return removed && nowMs - removed.atMs <= REMOVED_NODE_MEMORY_MS ? removed : undefined;
  }

  /** The strongest removal sign a live node shows now, null when none. */
  signOf(name: string, nowMs: number): RemovalReason | null {
    const record = this.nodes.get(name);
    return record ? signOf(record, nowMs) : null;
  }

  get size(): number {
    return this.nodes.size;
  }

  private apply(snapshot: NodeSnapshot, nowMs: number): void {
    const record = this.nodes.get(snapshot.name);
    if (record && record.snapshot.uid !== snapshot.uid) {
      // Same name, new object: the old node went away unseen.
      this.removeRecord(record, nowMs, false);
      return this.apply(snapshot, nowMs);
    }
    if (!record) {
      this.removed.delete(snapshot.name);
      this.nodes.set(snapshot.name, { snapshot, podSign: null });
      if (snapshot.spot && this.exports(snapshot.name)) this.onSpotNodeChanged.emit({ previous: undefined, next: snapshot });
      return;
    }
    const previous = record.snapshot;
    record.snapshot = snapshot;
    if ((previous.spot || snapshot.spot) && seriesDiffer(previous, snapshot) && this.exports(snapshot.name)) {
      this.onSpotNodeChanged.emit({ previous: previous.spot ? previous : undefined, next: snapshot.spot ? snapshot : undefined });
    }
  }

  private removeRecord(record: NodeRecord, nowMs: number, seen: boolean): void {
    const node = record.snapshot;
    this.nodes.delete(node.name);
    const reason = inferRemovalReason([signOf(record, nowMs)]);
    this.forgetOldRemovals(nowMs);
    this.removed.delete(node.name);
    this.removed.set(node.name, { reason, atMs: nowMs, seen, node });
    if (!node.spot || !this.exports(node.name)) return;
    this.onSpotNodeChanged.emit({ previous: node, next: undefined });
    const removedAtMs = node.deletingSinceMs ?? nowMs;
    const lifetimeSeconds = node.createdAtMs === null ? null : Math.max(0, (removedAtMs - node.createdAtMs) / 1000);
    if (lifetimeSeconds !== null) this.onSpotNodeRemoved.emit({ node, reason, lifetimeSeconds });
  }

  private forgetOldRemovals(nowMs: number): void {
    // Insertion order is removal order: stop at the first one still remembered.
    for (const [name, removed] of this.removed) {
      if (nowMs - removed.atMs <= REMOVED_NODE_MEMORY_MS) break;
      this.removed.delete(name);
    }
  }
}

/** Its taints now, and a recent pod failure by node shutdown unless the node is Ready again since. */
function signOf(record: NodeRecord, nowMs: number): RemovalReason | null {
  const { snapshot, podSign } = record;
  const podSignStands = podSign !== null && nowMs - podSign.atMs <= POD_SIGN_MAX_AGE_MS && !(snapshot.readySinceMs !== null && snapshot.readySinceMs > podSign.atMs);
  return stronger(snapshot.evidence, podSignStands ? podSign.reason : null);
}

function seriesDiffer(a: NodeSnapshot, b: NodeSnapshot): boolean {
  return a.spot !== b.spot || a.instanceType !== b.instanceType || a.zone !== b.zone || a.nodegroup !== b.nodegroup || a.createdAtMs !== b.createdAtMs;
}
