import { costRates, podRequests, type CostRates, type NodePrice, type Resources } from "../domain/cost.js";
import type { PodSnapshot } from "../domain/pod.js";
import { HeldTotals, type HeldSlot } from "../lib/held-totals.js";
import type { CostNode, NodeLabels } from "./cost-nodes.js";

export type PodGroupLabel = "project" | keyof NodeLabels;

/** A CI job pod's hold on its node now: who pays, at what rates, since when. */
export interface Hold {
  readonly node: CostNode;
  readonly project: string;
  readonly ref: string;
  readonly jobName: string;
  readonly requests: Resources;
  readonly share: number;
  /** When it began: the pod's binding, or the change that opened it anew. */
  readonly startMs: number;
  /** Whence it counts: its start, or later (the first list after a start, a takeover). */
  fromMs: number;
  /** Null for a pod of another shard, counted only in its node's time. */
  readonly resources: HeldSlot<PodGroupLabel> | null;
  /** Null when the node has no price or tells no allocatable resources, and for a pod of another shard. */
  readonly priced: PricedHold | null;
}

/** A priced hold: its rates, and where its cost counts. */
interface PricedHold {
  readonly rates: CostRates;
  readonly cost: HeldSlot<"project" | "capacity_type">;
  readonly ref: HeldSlot<"project" | "ref">;
  readonly jobName: HeldSlot<"project" | "job_name">;
}

/** What a hold is, before it has slots: a pod of a job, its requests, its node and its share of it. */
export type HoldFacts = Omit<Hold, "resources" | "priced">;

/**
 * A hold of these facts and slots, its fields always set in one order: every hold then shares one
 * hidden class. (Spread into a literal, `{ ...facts, resources, priced }`, 10,000 holds took
 * nearly as many hidden classes, each with its own descriptors, a few hundred bytes a pod.)
 */
export function holdOf(facts: HoldFacts, resources: Hold["resources"], priced: Hold["priced"]): Hold {
  const { node, project, ref, jobName, requests, share, startMs, fromMs } = facts;
  return { node, project, ref, jobName, requests, share, startMs, fromMs, resources, priced };
}

/** A branch or job name no pod has paid for in a day leaves the exposition. */
export const COST_SERIES_FORGET_MS = 24 * 3_600_000;

/** The totals the pods' holds count in, per label set: resource-time, cost, by ref, by job name. */
export class HoldTotals {
  /** Core-seconds and byte-seconds requested. */
  readonly resources: HeldTotals<PodGroupLabel>;
  /** The cost, and what the same pods would have cost on demand. */
  readonly cost: HeldTotals<"project" | "capacity_type">;
  readonly refs: HeldTotals<"project" | "ref">;
  readonly jobNames: HeldTotals<"project" | "job_name">;

  constructor(capacity: number) {
    this.resources = new HeldTotals(["project", "capacity_type", "nodegroup", "instance_type"], 2, capacity);
    this.cost = new HeldTotals(["project", "capacity_type"], 2, capacity);
    this.refs = new HeldTotals(["project", "ref"], 1, capacity);
    this.jobNames = new HeldTotals(["project", "job_name"], 1, capacity);
  }

  /** A hold of this shard's own pod, priced at `price` when there is one: its slots, kept while it is open. */
  open(facts: HoldFacts, price: NodePrice | null): Hold {
    const { project, ref, jobName, node } = facts;
    const priced: PricedHold | null =
      price === null
        ? null
        : { rates: costRates(facts.share, price), cost: this.cost.slot({ project, capacity_type: node.labels.capacity_type }), ref: this.refs.slot({ project, ref }), jobName: this.jobNames.slot({ project, job_name: jobName }) };
    const hold = holdOf(facts, this.resources.slot({ project, ...node.labels }), priced);
    this.resources.hold(hold.resources!);
    if (priced) {
      this.cost.hold(priced.cost);
      this.refs.hold(priced.ref);
      this.jobNames.hold(priced.jobName);
    }
    return hold;
  }

  /** The hold closed: its slots may be forgotten again. */
  release(hold: Hold): void {
    if (hold.resources) this.resources.release(hold.resources);
    if (!hold.priced) return;
    this.cost.release(hold.priced.cost);
    this.refs.release(hold.priced.ref);
    this.jobNames.release(hold.priced.jobName);
  }

  /** `seconds` of the hold, settled for good at `nowMs`. */
  settle(hold: Hold, seconds: number, nowMs: number): void {
    if (seconds <= 0 || !hold.resources) return;
    this.resources.add(hold.resources, [hold.requests.cpu * seconds, hold.requests.memory * seconds], nowMs);
    const priced = hold.priced;
    if (!priced) return;
    const cost = priced.rates.perSecond * seconds;
    this.cost.add(priced.cost, [cost, priced.rates.onDemandPerSecond * seconds], nowMs);
    this.refs.add(priced.ref, [cost], nowMs);
    this.jobNames.add(priced.jobName, [cost], nowMs);
  }

  /** A reading at `nowMs`, the open holds counted for the seconds given. */
  read(nowMs: number, open: ReadonlyArray<readonly [Hold, number]>): void {
    this.resources.read(nowMs, (add) => {
      for (const [hold, seconds] of open) if (hold.resources) add(hold.resources, [hold.requests.cpu * seconds, hold.requests.memory * seconds]);
    });
    const priced: Array<readonly [PricedHold, number]> = [];
    for (const [hold, seconds] of open) if (hold.priced) priced.push([hold.priced, seconds]);
    this.cost.read(nowMs, (add) => priced.forEach(([p, seconds]) => add(p.cost, [p.rates.perSecond * seconds, p.rates.onDemandPerSecond * seconds])));
    const forgetBefore = nowMs - COST_SERIES_FORGET_MS;
    this.refs.read(nowMs, (add) => priced.forEach(([p, seconds]) => add(p.ref, [p.rates.perSecond * seconds])), forgetBefore);
    this.jobNames.read(nowMs, (add) => priced.forEach(([p, seconds]) => add(p.jobName, [p.rates.perSecond * seconds])), forgetBefore);
  }
}

/** The pod still pays the same way: same job labels, same requests. */
export function sameHold(hold: Hold, pod: PodSnapshot): boolean {
  const requests = podRequests(pod.containers);
  const job = pod.job;
  return hold.project === (job?.project ?? "") && hold.ref === (job?.ref ?? "") && hold.jobName === (job?.jobName ?? "") && hold.requests.cpu === requests.cpu && hold.requests.memory === requests.memory;
}
