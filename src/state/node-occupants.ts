import type { JobPodChanged } from "../domain/events.js";
import { isTracked, type PodSnapshot } from "../domain/pod.js";
import { Listeners } from "../lib/listeners.js";

/**
 * CI job pods another shard tracks that sit on nodes whose time this shard counts: the cost of a
 * node's idle part needs every pod on it, whichever shard exports the pod. Kept apart from the
 * pod state (none of their own series, no interruptions, no builds), with only what a hold needs
 * and for as long as the pod is on such a node; applied the pod state's way: the same snapshot
 * twice changes nothing, a re-list that misses one ends it unseen.
 */
export class NodeOccupants {
  private readonly pods = new Map<string, PodSnapshot>();
  /** Such a pod appeared, changed or went away: the same facts as the pod state's `onJobPodChanged`. */
  readonly onJobPodChanged = new Listeners<JobPodChanged>();

  /** `occupies`: whether the pod's node is one this shard counts (a node not known yet may be). */
  constructor(private readonly occupies: (pod: PodSnapshot) => boolean) {}

  /** A pod this shard does not track, as a watch event or a list tells it. */
  upsert(pod: PodSnapshot, fromFirstList: boolean): void {
    const previous = this.pods.get(pod.uid);
    if (!isTracked(pod) || !pod.job || pod.nodeName === "" || !this.occupies(pod)) {
      if (previous) this.depart(previous, false);
      return;
    }
    this.pods.set(pod.uid, pod);
    this.onJobPodChanged.emit({ previous, next: pod, fromFirstList });
  }

  /** A pod was deleted; `final` is its last state. */
  remove(final: PodSnapshot): void {
    const previous = this.pods.get(final.uid);
    if (previous) this.depart(isTracked(final) && final.job ? final : previous, false);
  }

  /** A full list of one namespace (or of all): the pods it misses ended while the watch was down. */
  missing(namespace: string | null, listed: ReadonlySet<string>): void {
    for (const pod of [...this.pods.values()]) if ((namespace === null || pod.namespace === namespace) && !listed.has(pod.uid)) this.depart(pod, true);
  }

  /** The pod state tracks the pod from now: it is no longer an occupant, and nothing ends. */
  forget(uid: string): void {
    this.pods.delete(uid);
  }

  get size(): number {
    return this.pods.size;
  }

  private depart(pod: PodSnapshot, endUnseen: boolean): void {
    this.pods.delete(pod.uid);
    this.onJobPodChanged.emit({ previous: pod, next: undefined, fromFirstList: false, endUnseen });
  }
}
