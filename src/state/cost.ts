import { costRates, departedHoldMs, finishedHoldMs, heldSeconds, nodeShare, OPENCOST_RESOURCE_WEIGHTS, podRequests, type CostRates, type PriceTable, type Resources } from "../domain/cost.js";
import type { JobPodChanged } from "../domain/events.js";
import type { PodSnapshot } from "../domain/pod.js";
import { HeldTotals, type HeldSlot } from "../lib/held-totals.js";
import type { Listeners } from "../lib/listeners.js";
import { CostNode, CostNodes, type CostNodeSource, type NodeLabels } from "./cost-nodes.js";

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
}

type PodGroupLabel = "project" | keyof NodeLabels;

/** A CI job pod's hold on its node now: who pays, at what rates, since when. */
interface Hold {
  readonly node: CostNode;
  readonly project: string;
  readonly ref: string;
  readonly jobName: string;
  readonly requests: Resources;
  readonly share: number;
  readonly fromMs: number;
  readonly resources: HeldSlot<PodGroupLabel>;
  /** Null when the node has no price or tells no allocatable resources. */
  readonly priced: PricedHold | null;
}

/** A priced hold: its rates, and where its cost counts. */
interface PricedHold {
  readonly rates: CostRates;
  readonly cost: HeldSlot<"project" | "capacity_type">;
  readonly ref: HeldSlot<"project" | "ref">;
  readonly jobName: HeldSlot<"project" | "job_name">;
}

interface TrackedPod {
  snapshot: PodSnapshot;
  /** A pod of the first list held its node before the exporter watched: it counts from then. */
  readonly countFromMs: number;
  hold: Hold | null;
  /** Its hold ended (a final phase): nothing more is counted for it. */
  ended: boolean;
  /** Bound to a node not known yet: its hold opens when the node comes, or when the pod goes. */
  waitingForNode: boolean;
}

/** Without a change, a reading is reused this long, so the families of one scrape read the same one. */
export const COST_READING_REUSE_MS = 100;
/** A branch or job name no pod has paid for in a day leaves the exposition. */
export const COST_SERIES_FORGET_MS = 24 * 3_600_000;

/**
 * What CI job pods hold of their nodes, in resource-time and in money. Each pod's hold runs from
 * its binding (its first sight, for a pod the first list found running) to its end: its final
 * phase's time, its deletion, its node's removal, or, for a pod a re-list finds gone, the last
 * time the pods were heard of. Closed holds settle for good; open ones are counted up to each
 * reading, so the counters grow while pods run. Applying the same change twice changes nothing.
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
    const capacity = options.maxLabelSets ?? Infinity;
    this.resources = new HeldTotals(["project", "capacity_type", "nodegroup", "instance_type"], 2, capacity);
    this.cost = new HeldTotals(["project", "capacity_type"], 2, capacity);
    this.refs = new HeldTotals(["project", "ref"], 1, capacity);
    this.jobNames = new HeldTotals(["project", "job_name"], 1, capacity);
    this.nodes = new CostNodes(nodeSource, this.prices, this.now);
    pods.onJobPodChanged.add((change) => this.apply(change));
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
    const now = this.now();
    if (!this.changed && now >= this.readAtMs && now - this.readAtMs < COST_READING_REUSE_MS) return;
    this.readAtMs = now;
    this.changed = false;
    const holds: Array<readonly [Hold, number]> = [];
    for (const pod of this.pods.values()) if (pod.hold) holds.push([pod.hold, heldSeconds(pod.hold.fromMs, now, pod.hold.node.goneAtMs)]);
    this.resources.read(now, (add) => {
      for (const [hold, seconds] of holds) add(hold.resources, [hold.requests.cpu * seconds, hold.requests.memory * seconds]);
    });
    const priced: Array<readonly [PricedHold, number]> = [];
    for (const [hold, seconds] of holds) if (hold.priced) priced.push([hold.priced, seconds]);
    this.cost.read(now, (add) => priced.forEach(([p, seconds]) => add(p.cost, [p.rates.perSecond * seconds, p.rates.onDemandPerSecond * seconds])));
    const forgetBefore = now - COST_SERIES_FORGET_MS;
    this.refs.read(now, (add) => priced.forEach(([p, seconds]) => add(p.ref, [p.rates.perSecond * seconds])), forgetBefore);
    this.jobNames.read(now, (add) => priced.forEach(([p, seconds]) => add(p.jobName, [p.rates.perSecond * seconds])), forgetBefore);
    this.nodes.read(now);
  }

  /** Job pods holding a node now. */
  get openHolds(): number {
    let open = 0;
    for (const pod of this.pods.values()) if (pod.hold) open++;
    return open;
  }

  private apply({ previous, next, fromFirstList, endUnseen }: JobPodChanged): void {
    if (next) this.upsert(next, fromFirstList);
    else if (previous) this.depart(previous, endUnseen === true);
  }

  private upsert(snapshot: PodSnapshot, fromFirstList: boolean): void {
    const now = this.now();
    let pod = this.pods.get(snapshot.uid);
    if (!pod) {
      pod = { snapshot, countFromMs: fromFirstList ? now : -Infinity, hold: null, ended: false, waitingForNode: false };
      this.pods.set(snapshot.uid, pod);
    }
    pod.snapshot = snapshot;
    if (pod.ended || snapshot.nodeName === "" || !snapshot.job) return;
    if (pod.hold && !sameHold(pod.hold, snapshot)) {
      // Relabelled or resized: what it held so far is settled as it was, the rest counts anew.
      this.closeHold(pod, now);
      this.openHold(pod, now);
    } else if (!pod.hold && !pod.waitingForNode) {
      this.openHold(pod, Math.max(snapshot.start?.scheduledAtMs ?? now, pod.countFromMs));
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
      if (!pod.ended) this.hold(pod, this.unknownNode, Math.max(final.start?.scheduledAtMs ?? end, pod.countFromMs));
    }
    if (pod.hold) this.closeHold(pod, end);
  }

  /** Opens the pod's hold from `fromMs` on its node, or leaves it waiting for the node. */
  private openHold(pod: TrackedPod, fromMs: number): void {
    const node = this.nodeOf(pod.snapshot.nodeName);
    if (node === null) {
      pod.waitingForNode = true;
      this.waiting.add(pod);
      return;
    }
    this.hold(pod, node, fromMs);
  }

  private hold(pod: TrackedPod, node: CostNode, fromMs: number): void {
    const { job, containers } = pod.snapshot;
    const [project, ref, jobName] = [job?.project ?? "", job?.ref ?? "", job?.jobName ?? ""];
    const requests = podRequests(containers);
    const share = node.allocatable === null ? 0 : nodeShare(requests, node.allocatable, this.prices?.weights ?? OPENCOST_RESOURCE_WEIGHTS);
    const priced: PricedHold | null =
      node.price === null || node.allocatable === null
        ? null
        : {
            rates: costRates(share, node.price),
            cost: this.cost.slot({ project, capacity_type: node.labels.capacity_type }),
            ref: this.refs.slot({ project, ref }),
            jobName: this.jobNames.slot({ project, job_name: jobName }),
          };
    pod.hold = { node, project, ref, jobName, requests, share, fromMs, resources: this.resources.slot({ project, ...node.labels }), priced };
    this.resources.hold(pod.hold.resources);
    if (priced) {
      this.cost.hold(priced.cost);
      this.refs.hold(priced.ref);
      this.jobNames.hold(priced.jobName);
    }
    node.open.set(pod, { fromMs, share });
    this.changed = true;
  }

  /** A pod in a final phase: its hold ends at its finish, and nothing more counts for it. */
  private endIfFinished(pod: TrackedPod): void {
    const end = finishedHoldMs(pod.snapshot);
    if (end === null || pod.waitingForNode) return;
    if (pod.hold) this.closeHold(pod, end);
    pod.ended = true;
  }

  private closeHold(pod: TrackedPod, endMs: number): void {
    const hold = pod.hold!;
    pod.hold = null;
    this.changed = true;
    const seconds = heldSeconds(hold.fromMs, endMs, hold.node.goneAtMs);
    hold.node.closeHold(pod, endMs);
    const now = this.now();
    const priced = hold.priced;
    if (seconds > 0) {
      this.resources.add(hold.resources, [hold.requests.cpu * seconds, hold.requests.memory * seconds], now);
      if (priced) {
        const cost = priced.rates.perSecond * seconds;
        this.cost.add(priced.cost, [cost, priced.rates.onDemandPerSecond * seconds], now);
        this.refs.add(priced.ref, [cost], now);
        this.jobNames.add(priced.jobName, [cost], now);
      }
    }
    this.resources.release(hold.resources);
    if (priced) {
      this.cost.release(priced.cost);
      this.refs.release(priced.ref);
      this.jobNames.release(priced.jobName);
    }
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
      this.openHold(pod, Math.max(pod.snapshot.start?.scheduledAtMs ?? nowMs, pod.countFromMs));
      this.endIfFinished(pod);
    }
    this.changed = true;
  }
}

/** The pod still pays the same way: same job labels, same requests. */
function sameHold(hold: Hold, pod: PodSnapshot): boolean {
  const requests = podRequests(pod.containers);
  const job = pod.job;
  return hold.project === (job?.project ?? "") && hold.ref === (job?.ref ?? "") && hold.jobName === (job?.jobName ?? "") && hold.requests.cpu === requests.cpu && hold.requests.memory === requests.memory;
}

