import { departedHoldMs, finishedHoldMs, heldSeconds, nodeShare, OPENCOST_RESOURCE_WEIGHTS, podRequests, type PriceTable } from "../domain/cost.js";
import type { JobPodChanged } from "../domain/events.js";
import type { PodSnapshot } from "../domain/pod.js";
import type { CountingGate } from "../lib/counting-gate.js";
import type { HeldTotals } from "../lib/held-totals.js";
import type { Listeners } from "../lib/listeners.js";
import { CostNode, CostNodes, type CostNodeSource, type NodeLabels } from "./cost-nodes.js";
import { holdOf, HoldTotals, sameHold, type Hold, type PodGroupLabel } from "./cost-holds.js";

export { COST_SERIES_FORGET_MS } from "./cost-holds.js";

export interface CostLedgerOptions {
  /** `KUBE_NODE_PRICES_FILE`; without it only the price-free counters count. */
  readonly prices?: PriceTable | null;
  /** Whether nodes are watched (true when absent): a pod then waits for its node to be known. */
  readonly nodesWatched?: boolean;
  readonly now?: () => number;
  /**
   * When the pods were last heard of (a watch event or a list): a pod a re-list finds gone ended
   * unseen, at the latest then. Unknown: when it was found gone.
   */
  readonly podsHeardAtMs?: () => number | undefined;
  /** Label sets kept per family at most (`MAX_SERIES_PER_FAMILY`): past it, those paid for longest ago go. */
  readonly maxLabelSets?: number;
  /**
   * A shard's pods of other shards on the nodes whose time it counts (`NodeOccupants`): counted
   * in those nodes' time, paid for by their own shard.
   */
  readonly occupants?: { readonly onJobPodChanged: Listeners<JobPodChanged> };
  /** Whether this shard counts the time of nodes of these labels; every node when absent. */
  readonly countsNode?: (labels: NodeLabels) => boolean;
  /**
   * A standby's gate: while it is closed nothing is read, and holds that end are held back by it;
   * `countFrom` then counts from the takeover's moment, and the gate's opening settles them.
   */
  readonly gate?: CountingGate;
}

interface TrackedPod {
  snapshot: PodSnapshot;
  /** This shard's own pod (else one of another shard's, on a node whose time this shard counts). */
  own: boolean;
  /** A pod of the first list held its node before the exporter watched: it counts from then (or from a takeover). */
  countFromMs: number;
  hold: Hold | null;
  /** Its hold ended (a final phase): nothing more is counted for it. */
  ended: boolean;
  /** Bound to a node not known yet: its hold opens when the node comes, or when the pod goes. */
  waitingForNode: boolean;
}

/** Without a change, a reading is reused this long, so the families of one scrape read the same one. */
export const COST_READING_REUSE_MS = 100;

/**
 * What CI job pods hold of their nodes, in resource-time and in money. Each pod's hold runs from
 * its binding (its first sight, for a pod the first list found running) to its end: its final
 * phase's time, its deletion, its node's removal, or, for a pod a re-list finds gone, the last
 * time the pods were heard of. Closed holds settle for good; open ones are counted up to each
 * reading, so the counters grow while pods run. Applying the same change twice changes nothing.
 * Of a shard, its own pods are paid for, and every pod on the nodes it counts makes their time.
 */
export class CostLedger {
  private readonly pods = new Map<string, TrackedPod>();
  private readonly waiting = new Set<TrackedPod>();
  /** The node of pods whose node is not watched, or never came. */
  private readonly unknownNode = new CostNode("", null, null);
  private readonly prices: PriceTable | null;
  private readonly nodesWatched: boolean;
  private readonly now: () => number;
  private readAtMs = -Infinity;
  private changed = true;
  /** Nothing before it counts: the moment a standby took over from (`countFrom`). */
  private floorMs = -Infinity;
  private readonly totals: HoldTotals;
  /** Core-seconds and byte-seconds requested. */
  readonly resources: HeldTotals<PodGroupLabel>;
  /** The cost, and what the same pods would have cost on demand. */
  readonly cost: HeldTotals<"project" | "capacity_type">;
  readonly refs: HeldTotals<"project" | "ref">;
  readonly jobNames: HeldTotals<"project" | "job_name">;
  /** The nodes the pods hold, and their occupied and idle time. */
  readonly nodes: CostNodes;

  constructor(
    pods: { readonly onJobPodChanged: Listeners<JobPodChanged> },
    nodeSource: CostNodeSource,
    private readonly options: CostLedgerOptions = {},
  ) {
    this.prices = options.prices ?? null;
    this.nodesWatched = options.nodesWatched ?? true;
    this.now = options.now ?? Date.now;
    this.totals = new HoldTotals(options.maxLabelSets ?? Infinity);
    ({ resources: this.resources, cost: this.cost, refs: this.refs, jobNames: this.jobNames } = this.totals);
    this.nodes = new CostNodes(nodeSource, this.prices, this.now, options.countsNode);
    pods.onJobPodChanged.add((change) => this.apply(change, true));
    options.occupants?.onJobPodChanged.add((change) => this.apply(change, false));
    nodeSource.onChanged.add((nowMs) => this.nodesChanged(nowMs));
  }

  get priced(): boolean {
    return this.prices !== null;
  }

  get currency(): string | null {
    return this.prices?.currency ?? null;
  }

  /** Takes a reading now (open holds counted up to now), unless nothing changed a moment ago. */
  read(): void {
    if (this.options.gate?.isOpen === false) return;
    const now = this.now();
    if (!this.changed && now >= this.readAtMs && now - this.readAtMs < COST_READING_REUSE_MS) return;
    this.readAtMs = now;
    this.changed = false;
    const open: Array<readonly [Hold, number]> = [];
    for (const { hold } of this.pods.values()) if (hold?.resources) open.push([hold, heldSeconds(hold.fromMs, now, hold.node.goneAtMs)]);
    this.totals.read(now, open);
    this.nodes.read(now);
  }

  /**
   * A standby takes over: from `sinceMs` (its predecessor's last sign of life) nothing before
   * counts; the pods still holding their nodes count from their binding or from then, whichever is
   * later, and the holds that ended meanwhile, which the gate releases next, for their part after
   * it. Null: there was no predecessor, and everything seen since the start counts.
   */
  countFrom(sinceMs: number | null): void {
    this.changed = true;
    if (sinceMs === null) return;
    this.floorMs = sinceMs;
    for (const pod of this.pods.values()) {
      pod.countFromMs = sinceMs;
      if (!pod.hold) continue;
      pod.hold.fromMs = Math.max(pod.hold.startMs, sinceMs);
      pod.hold.node.rebase(pod, pod.hold.fromMs);
    }
  }

  /** Job pods of this shard holding a node now. */
  get openHolds(): number {
    let open = 0;
    for (const pod of this.pods.values()) if (pod.hold && pod.own) open++;
    return open;
  }

  private apply({ previous, next, fromFirstList, endUnseen }: JobPodChanged, own: boolean): void {
    if (next) this.upsert(next, fromFirstList, own);
    else if (previous && this.pods.get(previous.uid)?.own === own) this.depart(previous, endUnseen === true);
  }

  private upsert(snapshot: PodSnapshot, fromFirstList: boolean, own: boolean): void {
    const now = this.now();
    let pod = this.pods.get(snapshot.uid);
    if (pod?.own && !own) return;
    const becameOwn = pod !== undefined && own && !pod.own;
    if (!pod) {
      pod = { snapshot, own, countFromMs: fromFirstList ? (Number.isFinite(this.floorMs) ? this.floorMs : now) : -Infinity, hold: null, ended: false, waitingForNode: false };
      this.pods.set(snapshot.uid, pod);
    }
    pod.snapshot = snapshot;
    if (pod.ended || snapshot.nodeName === "" || !snapshot.job) return;
    pod.own ||= own;
    if (pod.hold && (!sameHold(pod.hold, snapshot) || becameOwn)) {
      // Relabelled, resized, or tracked by this shard from now: what it held so far is settled
      // as it was, the rest counts anew.
      this.closeHold(pod, now);
      this.openHold(pod, now);
    } else if (!pod.hold && !pod.waitingForNode) {
      this.openHold(pod, snapshot.start?.scheduledAtMs ?? now);
    }
    this.endIfFinished(pod);
  }

  private depart(final: PodSnapshot, endUnseen: boolean): void {
    const pod = this.pods.get(final.uid);
    if (!pod) return;
    this.pods.delete(final.uid);
    pod.snapshot = final;
    const now = this.now();
    const end = departedHoldMs(final, endUnseen ? Math.min(now, this.options.podsHeardAtMs?.() ?? now) : now);
    if (pod.waitingForNode) {
      // Its node never came: it is counted on a node not known.
      this.waiting.delete(pod);
      pod.waitingForNode = false;
      if (!pod.ended) this.hold(pod, this.unknownNode, final.start?.scheduledAtMs ?? end);
    }
    if (pod.hold) this.closeHold(pod, end);
  }

  /** Opens the pod's hold from `startMs` on its node, or leaves it waiting for the node. */
  private openHold(pod: TrackedPod, startMs: number): void {
    const node = this.nodeOf(pod.snapshot.nodeName);
    if (node === null) {
      pod.waitingForNode = true;
      this.waiting.add(pod);
      return;
    }
    this.hold(pod, node, startMs);
  }

  /** Its hold from its start, counted from then or later (`countFromMs`, a takeover). */
  private hold(pod: TrackedPod, node: CostNode, startMs: number): void {
    const counted = this.nodes.counts(node.labels) && node !== this.unknownNode;
    if (!pod.own && !counted) {
      // Another shard's pod on a node this shard does not count: nothing of it is this shard's.
      this.pods.delete(pod.snapshot.uid);
      return;
    }
    const fromMs = Math.max(startMs, pod.countFromMs, this.floorMs);
    const { job, containers } = pod.snapshot;
    const requests = podRequests(containers);
    const share = node.allocatable === null ? 0 : nodeShare(requests, node.allocatable, this.prices?.weights ?? OPENCOST_RESOURCE_WEIGHTS);
    const facts = { node, project: job?.project ?? "", ref: job?.ref ?? "", jobName: job?.jobName ?? "", requests, share, startMs, fromMs };
    pod.hold = pod.own ? this.totals.open(facts, node.allocatable === null ? null : node.price) : holdOf(facts, null, null);
    if (counted) node.open.set(pod, { fromMs, share });
    this.changed = true;
  }

  /** A pod in a final phase: its hold ends at its finish, and nothing more counts for it. */
  private endIfFinished(pod: TrackedPod): void {
    const end = finishedHoldMs(pod.snapshot);
    if (end === null || pod.waitingForNode) return;
    if (pod.hold) this.closeHold(pod, end);
    pod.ended = true;
  }

  /** Its hold ends at `endMs`: settled now, or, while standing by, when the gate opens. */
  private closeHold(pod: TrackedPod, endMs: number): void {
    const hold = pod.hold!;
    pod.hold = null;
    this.changed = true;
    const onNode = hold.node.release(pod) !== undefined;
    this.totals.release(hold);
    const settle = () => {
      // From its start, or from a takeover after it.
      const fromMs = Number.isFinite(this.floorMs) ? Math.max(hold.startMs, this.floorMs) : hold.fromMs;
      if (onNode) hold.node.addHeld(fromMs, endMs, hold.share);
      this.totals.settle(hold, heldSeconds(fromMs, endMs, hold.node.goneAtMs), this.now());
      this.changed = true;
    };
    if (this.options.gate) this.options.gate.pass(settle);
    else settle();
  }

  /** The node's record; null while a watched node is not known (yet). */
  private nodeOf(name: string): CostNode | null {
    return this.nodesWatched ? this.nodes.recordOf(name) : this.unknownNode;
  }

  private nodesChanged(nowMs: number): void {
    this.nodes.refresh(nowMs);
    for (const pod of [...this.waiting]) {
      if (this.nodes.recordOf(pod.snapshot.nodeName) === null) continue;
      this.waiting.delete(pod);
      pod.waitingForNode = false;
      this.openHold(pod, pod.snapshot.start?.scheduledAtMs ?? nowMs);
      this.endIfFinished(pod);
    }
    this.changed = true;
  }
}
