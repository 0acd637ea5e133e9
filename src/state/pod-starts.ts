import type { JobPodChanged, JobPodStarted } from "../domain/events.js";
import { startupOf, waitingReason, type PodSnapshot, type WaitingReason } from "../domain/pod.js";
import { Listeners } from "../lib/listeners.js";
import type { NodeStore } from "./nodes.js";

export interface JobPodStartsOptions {
  /**
   * Whether nodes are watched (true when absent). A pod seen started on a node not known yet then
   * waits for it: nodes come on their own watch, and a node just created may arrive after the
   * pods it runs. Without the node watch a start is observed at once, its node unknown.
   */
  readonly nodesWatched?: boolean;
}

/** A job pod that waits now: the `gitlab_ci_job_pods_waiting` series it counts in. */
interface Waiting {
  readonly project: string;
  readonly reason: WaitingReason;
  /** Its creation, from which it has waited; null when unknown. */
  readonly sinceMs: number | null;
}

/** How many job pods of a project wait for one reason. */
export interface WaitingGroup {
  readonly project: string;
  readonly reason: WaitingReason;
  count: number;
}

/**
 * CI job pods on their way to running, told by the pod state: which wait now and why, and the
 * start of each, observed once when its build container runs. A start the first list after
 * start-up shows is not observed (it may predate the exporter); one a re-list finds after a watch
 * outage is, once. A pod's marks leave with it, so the same pod seen again changes nothing.
 */
export class JobPodStarts {
  private readonly waiting = new Map<string, Waiting>();
  private readonly groups = new Map<string, WaitingGroup>();
  /** Pods whose start was decided (observed, or found at the first list), by uid, until they go. */
  private readonly decided = new Set<string>();
  /** Started pods whose node is not known yet, by uid. */
  private readonly unplaced = new Map<string, PodSnapshot>();
  private readonly nodesWatched: boolean;
  /** A job pod's build container started: once per pod. */
  readonly onStarted = new Listeners<JobPodStarted>();

  constructor(
    pods: { readonly onJobPodChanged: Listeners<JobPodChanged> },
    private readonly nodes: NodeStore,
    options: JobPodStartsOptions = {},
  ) {
    this.nodesWatched = options.nodesWatched ?? true;
    pods.onJobPodChanged.add((change) => this.apply(change));
    nodes.onChanged.add(() => this.placeStarted());
  }

  /** Waiting pods by project and reason, groups with none left out. */
  waitingGroups(): Iterable<Readonly<WaitingGroup>> {
    return this.groups.values();
  }

  /** By reason, the creation of the longest-waiting pod (Unix ms), for reasons some pod waits for. */
  oldestWaiting(): Map<WaitingReason, number> {
    const oldest = new Map<WaitingReason, number>();
    for (const { reason, sinceMs } of this.waiting.values()) {
      if (sinceMs !== null && sinceMs < (oldest.get(reason) ?? Infinity)) oldest.set(reason, sinceMs);
    }
    return oldest;
  }

  /** Job pods waiting now. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** Started pods whose start waits for their node to be known. */
  get unplacedCount(): number {
    return this.unplaced.size;
  }

  private apply({ previous, next, fromFirstList }: JobPodChanged): void {
    const uid = (next ?? previous)!.uid;
    this.setWaiting(uid, next);
    if (next === undefined) return this.gone(uid);
    if (this.decided.has(uid) || (next.start?.startupSeconds ?? null) === null) return;
    this.decided.add(uid);
    if (fromFirstList) return;
    if (!this.nodesWatched || this.nodes.get(next.nodeName) !== undefined) this.observe(next);
    else this.unplaced.set(uid, next);
  }

  /** A pod went: its start, if its node never came, is observed with what is known. */
  private gone(uid: string): void {
    const unplaced = this.unplaced.get(uid);
    if (unplaced) {
      this.unplaced.delete(uid);
      this.observe(unplaced);
    }
    this.decided.delete(uid);
  }

  /** The nodes changed: starts waiting for their node are observed once it is known. */
  private placeStarted(): void {
    for (const [uid, pod] of this.unplaced) {
      if (this.nodes.get(pod.nodeName) === undefined) continue;
      this.unplaced.delete(uid);
      this.observe(pod);
    }
  }

  private observe(pod: PodSnapshot): void {
    const startup = startupOf(pod, this.nodes.get(pod.nodeName));
    if (startup !== null) this.onStarted.emit(startup);
  }

  private setWaiting(uid: string, pod: PodSnapshot | undefined): void {
    const before = this.waiting.get(uid);
    const after = pod === undefined ? undefined : waitingOf(pod);
    if (before?.project === after?.project && before?.reason === after?.reason && before?.sinceMs === after?.sinceMs) return;
    if (before) this.count(before, -1);
    if (after) {
      this.waiting.set(uid, after);
      this.count(after, +1);
    } else {
      this.waiting.delete(uid);
    }
  }

  private count({ project, reason }: Waiting, delta: 1 | -1): void {
    const key = `${project}\u0000${reason}`;
    const group = this.groups.get(key) ?? { project, reason, count: 0 };
    group.count += delta;
    if (group.count <= 0) this.groups.delete(key);
    else this.groups.set(key, group);
  }
}

/** The series a waiting job pod counts in; undefined when it does not wait. */
function waitingOf(pod: PodSnapshot): Waiting | undefined {
  const reason = waitingReason(pod);
  return reason === null ? undefined : { project: pod.job?.project ?? "", reason, sinceMs: pod.start?.createdAtMs ?? null };
}
