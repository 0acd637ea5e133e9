import { allocatableOf, capacityTypeOf, nodePrice, type NodePrice, type PriceTable, type Resources } from "../domain/cost.js";
import type { NodeSnapshot } from "../domain/pod.js";
import { HeldTotals } from "../lib/held-totals.js";
import { IntervalUnion } from "../lib/interval-union.js";
import type { Listeners } from "../lib/listeners.js";
import { REMOVED_NODE_MEMORY_MS } from "./nodes.js";

/**
 * How far back a node's busy time keeps its intervals apart: a pod found at a re-list with an
 * older binding still merges with them; anything older is folded into a plain length.
 */
const BUSY_KEEP_MS = 6 * 3_600_000;

/** The node labels of the cost families; "" where the node tells nothing, or is not known. */
export interface NodeLabels {
  readonly capacity_type: string;
  readonly nodegroup: string;
  readonly instance_type: string;
}

/** What a node held while CI job pods were on it: its busy time and the shares its pods took. */
export interface NodeTime {
  /** Seconds it held at least one CI job pod. */
  readonly occupiedSeconds: number;
  /** Of those node-seconds, the part no CI job pod requested (null when its allocatable is unknown). */
  readonly idleSeconds: number | null;
}

/**
 * A node that holds, or held, CI job pods, as the cost ledger keeps it: its labels and price as
 * they were when its first job pod came, when it went, the union of its pods' holds and the
 * share-seconds of the holds closed on it. A pod's hold is the interval from its binding to its
 * end; the node is busy over their union.
 */
export class CostNode {
  readonly labels: NodeLabels;
  readonly price: NodePrice | null;
  readonly allocatable: Resources | null;
  /** When the node went away; null while it is there. */
  goneAtMs: number | null = null;
  /** Its deletion timestamp as last seen: when it went, if it goes. */
  lastDeletingSinceMs: number | null;
  /** Holds open on the node now: their start and share. */
  readonly open = new Map<object, { readonly fromMs: number; readonly share: number }>();
  private readonly busy = new IntervalUnion(BUSY_KEEP_MS);
  private closedShareSeconds = 0;

  constructor(
    readonly name: string,
    /** null for the stand-in of a node that is not watched or was never seen. */
    readonly snapshot: NodeSnapshot | null,
    prices: PriceTable | null,
  ) {
    this.labels = snapshot === null ? { capacity_type: "", nodegroup: "", instance_type: "" } : { capacity_type: capacityTypeOf(snapshot), nodegroup: snapshot.nodegroup, instance_type: snapshot.instanceType };
    this.price = snapshot === null ? null : nodePrice(prices, snapshot.instanceType, capacityTypeOf(snapshot));
    this.allocatable = allocatableOf(snapshot?.allocatable);
    this.lastDeletingSinceMs = snapshot?.deletingSinceMs ?? null;
  }

  get uid(): string | null {
    return this.snapshot?.uid ?? null;
  }

  /** A hold ends: it is no longer open on the node; what it held is told by `addHeld`. Undefined when it was not open. */
  release(key: object): { readonly fromMs: number; readonly share: number } | undefined {
    const hold = this.open.get(key);
    this.open.delete(key);
    return hold;
  }

  /** A hold that counts from `fromMs` now (a takeover moves its start), if it is open. */
  rebase(key: object, fromMs: number): void {
    const hold = this.open.get(key);
    if (hold) this.open.set(key, { fromMs, share: hold.share });
  }

  /** A hold closed: its interval joins the busy time, its share-seconds the node's requested part. */
  addHeld(fromMs: number, toMs: number, share: number): void {
    const end = this.cut(toMs);
    if (end <= fromMs) return;
    this.busy.add(fromMs, end);
    this.closedShareSeconds += (share * (end - fromMs)) / 1000;
  }

  /** Its busy time and idle part up to `nowMs`, the holds still open counted up to then. */
  timeAt(nowMs: number): NodeTime {
    const end = this.cut(nowMs);
    let earliest = Infinity;
    let shareSeconds = this.closedShareSeconds;
    for (const hold of this.open.values()) {
      if (end <= hold.fromMs) continue;
      earliest = Math.min(earliest, hold.fromMs);
      shareSeconds += (hold.share * (end - hold.fromMs)) / 1000;
    }
    const occupiedSeconds = (earliest < end ? this.busy.length([earliest, end]) : this.busy.length()) / 1000;
    return { occupiedSeconds, idleSeconds: this.allocatable === null ? null : Math.max(0, occupiedSeconds - shareSeconds) };
  }

  /** Gone, with nothing open on it: what it held is final. */
  get settled(): boolean {
    return this.goneAtMs !== null && this.open.size === 0;
  }

  private cut(ms: number): number {
    return this.goneAtMs === null ? ms : Math.min(ms, this.goneAtMs);
  }
}

/** What the cost state reads of the node state. */
export interface CostNodeSource {
  get(name: string): NodeSnapshot | undefined;
  /** A node of that name that went lately: its last state, and when it was found gone. */
  removedLately(name: string, nowMs: number): { readonly node: NodeSnapshot; readonly atMs: number } | undefined;
  /** The nodes changed, at the time given. */
  readonly onChanged: Listeners<number>;
}

const nodeTotals = (width: number) => new HeldTotals<keyof NodeLabels>(["nodegroup", "capacity_type", "instance_type"], width);

/**
 * The nodes that hold or held CI job pods, by uid (a node replaced under the same name is another
 * node), and their totals by node group: a node's time counts while it lives, and settles for
 * good once it is gone with no hold left open on it. Of a shard, only the nodes it `counts` (of
 * its instance and capacity types) have holds open on them and totals; the others are kept for
 * their labels and price, which its own pods on them pay.
 */
export class CostNodes {
  private readonly nodes = new Map<string, CostNode>();
  /** Seconds nodes held CI job pods. */
  readonly occupied = nodeTotals(1);
  /** Of those node-seconds, the part no CI job pod requested (nodes that tell their allocatable resources). */
  readonly idleSeconds = nodeTotals(1);
  /** Its price (priced nodes). */
  readonly idleCost = nodeTotals(1);

  constructor(
    private readonly source: CostNodeSource,
    private readonly prices: PriceTable | null,
    private readonly now: () => number,
    /** Whether this shard counts the node's time; every node when absent. */
    readonly counts: (labels: NodeLabels) => boolean = () => true,
  ) {}

  /**
   * The record of the node of that name now, new if need be, or of the one that went by that name
   * lately (nodes and pods come on separate watches: a pod may be seen after its node went, even
   * before any other pod was seen on it); null while no such node is known.
   */
  recordOf(name: string): CostNode | null {
    const snapshot = this.source.get(name);
    if (!snapshot) return this.goneNamed(name) ?? this.removedLately(name);
    let node = this.nodes.get(snapshot.uid);
    if (!node) {
      node = new CostNode(name, snapshot, this.prices);
      this.nodes.set(snapshot.uid, node);
    }
    return node;
  }

  /** The nodes changed: those gone stop counting at their deletion (or when they were found gone). */
  refresh(nowMs: number): void {
    for (const node of this.nodes.values()) {
      const current = this.source.get(node.name);
      if (current && current.uid === node.uid) node.lastDeletingSinceMs = current.deletingSinceMs;
      else if (node.goneAtMs === null) node.goneAtMs = Math.min(nowMs, node.lastDeletingSinceMs ?? nowMs);
    }
  }

  /**
   * Nodes gone a while with nothing open on them: what they held is settled for good, and their
   * records go (kept until then for pods seen after their node went).
   */
  foldSettled(nowMs: number): void {
    for (const [uid, node] of this.nodes) {
      if (!node.settled || nowMs - node.goneAtMs! < REMOVED_NODE_MEMORY_MS) continue;
      this.nodes.delete(uid);
      if (!this.counts(node.labels)) continue;
      const time = node.timeAt(node.goneAtMs!);
      this.occupied.add(this.occupied.slot(node.labels), [time.occupiedSeconds], nowMs);
      if (time.idleSeconds === null) continue;
      this.idleSeconds.add(this.idleSeconds.slot(node.labels), [time.idleSeconds], nowMs);
      if (node.price !== null) this.idleCost.add(this.idleCost.slot(node.labels), [(time.idleSeconds * node.price.hourly) / 3600], nowMs);
    }
  }

  /** A reading at `nowMs` of the node totals, the nodes still kept counted up to then. */
  read(nowMs: number): void {
    this.foldSettled(nowMs);
    const times = [...this.nodes.values()].filter((node) => this.counts(node.labels)).map((node) => [node, node.timeAt(nowMs)] as const);
    this.occupied.read(nowMs, (add) => times.forEach(([node, time]) => add(this.occupied.slot(node.labels), [time.occupiedSeconds])));
    this.idleSeconds.read(nowMs, (add) => {
      for (const [node, time] of times) if (time.idleSeconds !== null) add(this.idleSeconds.slot(node.labels), [time.idleSeconds]);
    });
    this.idleCost.read(nowMs, (add) => {
      for (const [node, time] of times) if (time.idleSeconds !== null && node.price !== null) add(this.idleCost.slot(node.labels), [(time.idleSeconds * node.price.hourly) / 3600]);
    });
  }

  /** Nodes holding CI job pods now whose instance type has no price, by instance and capacity type. */
  unpriced(): Map<string, { readonly labels: { readonly instance_type: string; readonly capacity_type: string }; count: number }> {
    const groups = new Map<string, { labels: { instance_type: string; capacity_type: string }; count: number }>();
    if (!this.prices) return groups;
    for (const node of this.nodes.values()) {
      if (node.price !== null || node.goneAtMs !== null || node.open.size === 0) continue;
      const { instance_type, capacity_type } = node.labels;
      const key = `${instance_type}\u0000${capacity_type}`;
      const group = groups.get(key) ?? { labels: { instance_type, capacity_type }, count: 0 };
      group.count++;
      groups.set(key, group);
    }
    return groups;
  }

  /** Nodes kept: there and holding or having held job pods, or gone lately. */
  get size(): number {
    return this.nodes.size;
  }

  /** A record for a node that went before any pod was seen on it. */
  private removedLately(name: string): CostNode | null {
    const removed = this.source.removedLately(name, this.now());
    if (!removed) return null;
    const node = new CostNode(name, removed.node, this.prices);
    node.goneAtMs = Math.min(removed.atMs, removed.node.deletingSinceMs ?? removed.atMs);
    this.nodes.set(removed.node.uid, node);
    return node;
  }

  private goneNamed(name: string): CostNode | null {
    let latest: CostNode | null = null;
    for (const node of this.nodes.values()) if (node.name === name && node.goneAtMs !== null && (latest === null || node.goneAtMs > latest.goneAtMs!)) latest = node;
    return latest;
  }
}
