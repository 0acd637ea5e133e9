import { interruptionReason } from "../domain/interruption.js";
import { evidenceFromPodFailure } from "../domain/node.js";
import { isTracked, type PodSnapshot } from "../domain/pod.js";
import type { NodeStore } from "./nodes.js";

export interface JobPodInterrupted {
  readonly project: string;
  readonly reason: string;
}

export interface BuildFinished {
  readonly builder: string;
  /** "" when the build ran outside a CI job pod (a plain Kubernetes Job). */
  readonly project: string;
  readonly result: "success" | "failure";
  readonly durationSeconds: number;
}

export interface PodEvents {
  /** A CI job pod appeared, changed or went away (`next` undefined). */
  jobPodChanged(previous: PodSnapshot | undefined, next: PodSnapshot | undefined): void;
  /** A CI job pod went away because its node did, or was evicted: counted once per pod. */
  jobPodInterrupted(event: JobPodInterrupted): void;
  /** A builder container run ended: observed once per run. */
  buildFinished(event: BuildFinished): void;
}

export interface ApplyOptions {
  readonly nowMs: number;
  /**
   * Whether builds that already ended count. False for the first list after start-up: those ran
   * before we watched, and a restarted exporter must not observe them again.
   */
  readonly observeHistory: boolean;
}

/** An interruption told by the pod alone, waiting briefly for its node to say more. */
interface Undecided {
  readonly project: string;
  readonly nodeName: string;
  readonly reason: string;
  readonly decideAtMs: number;
}

interface TrackedPod {
  snapshot: PodSnapshot;
  /** Per builder container, the start of the latest run already observed. */
  readonly observedRunStart: Map<string, number>;
}

/**
 * The pods that matter now (CI job pods, pods running an image builder), keyed by uid. Applying
 * the same snapshot twice changes nothing; a pod is removed once, whether its DELETED event or a
 * re-list tells, and that is when an interruption is decided.
 */
export class PodStore {
  private readonly pods = new Map<string, TrackedPod>();
  /** In the order they went, so the oldest is decided first. */
  private undecided: Undecided[] = [];

  /**
   * @param settleMs how long an interruption that only the pod tells of (a `DisruptionTarget`
   *   condition, a node-shutdown failure) waits for a removal sign from its node. Nodes and pods
   *   come on separate watches, so a node's taint may arrive just after the pods it evicted.
   */
  constructor(
    private readonly events: PodEvents,
    private readonly nodes: NodeStore,
    private readonly settleMs = 0,
  ) {}

  upsert(snapshot: PodSnapshot, options: ApplyOptions): void {
    this.noteNodeEvidence(snapshot, options.nowMs);
    const tracked = this.pods.get(snapshot.uid);
    if (!isTracked(snapshot)) {
      // Labels changed so that it no longer is a job pod: forget it, it was not interrupted.
      if (tracked) this.forget(tracked);
      return;
    }
    if (!tracked) {
      const pod: TrackedPod = { snapshot, observedRunStart: new Map() };
      this.pods.set(snapshot.uid, pod);
      if (snapshot.job) this.events.jobPodChanged(undefined, snapshot);
      this.observeBuilds(pod, options.observeHistory);
      return;
    }
    const previous = tracked.snapshot;
    tracked.snapshot = snapshot;
    if (previous.job || snapshot.job) this.events.jobPodChanged(previous.job ? previous : undefined, snapshot.job ? snapshot : undefined);
    this.observeBuilds(tracked, true);
  }

  /** A pod was deleted; `final` is its last state (the watch's DELETED object). */
  remove(final: PodSnapshot, nowMs: number): void {
    const tracked = this.pods.get(final.uid);
    this.noteNodeEvidence(final, nowMs);
    if (!tracked) return;
    if (isTracked(final)) {
      tracked.snapshot = final;
      this.observeBuilds(tracked, true);
    }
    this.depart(tracked, nowMs);
  }

  /**
   * A full list of one namespace (or of all, `namespace` null): tracked pods missing from it
   * were deleted while the watch was down.
   */
  replace(namespace: string | null, snapshots: readonly PodSnapshot[], options: ApplyOptions): void {
    const listed = new Set(snapshots.map((s) => s.uid));
    for (const tracked of [...this.pods.values()]) {
      const pod = tracked.snapshot;
      if ((namespace === null || pod.namespace === namespace) && !listed.has(pod.uid)) this.depart(tracked, options.nowMs, false);
    }
    for (const snapshot of snapshots) this.upsert(snapshot, options);
  }

  /**
   * Decides the interruptions whose wait is over, or whose node has since shown why it went.
   * Call it regularly, with the current time.
   */
  settle(nowMs: number): void {
    if (this.undecided.length === 0) return;
    const waiting: Undecided[] = [];
    for (const entry of this.undecided) {
      const nodeReason = this.nodes.departure(entry.nodeName, nowMs);
      if (nodeReason !== null && nodeReason !== "unknown") this.events.jobPodInterrupted({ project: entry.project, reason: nodeReason });
      else if (nowMs >= entry.decideAtMs) this.events.jobPodInterrupted({ project: entry.project, reason: entry.reason });
      else waiting.push(entry);
    }
    this.undecided = waiting;
  }

  /** Interruptions still waiting for their node. */
  get undecidedCount(): number {
    return this.undecided.length;
  }

  get(uid: string): PodSnapshot | undefined {
    return this.pods.get(uid)?.snapshot;
  }

  get size(): number {
    return this.pods.size;
  }

  /** `seen`: the deletion came as a watch event, not as a pod missing from a re-list. */
  private depart(tracked: TrackedPod, nowMs: number, seen = true): void {
    const pod = tracked.snapshot;
    this.pods.delete(pod.uid);
    if (!pod.job) return;
    this.events.jobPodChanged(pod, undefined);
    const nodeReason = this.nodes.departure(pod.nodeName, nowMs, { podSeenGoing: seen });
    const reason = interruptionReason({ nodeReason, disruption: pod.disruption, phase: pod.phase, statusReason: pod.statusReason });
    if (reason === null) return;
    const fromNode = nodeReason !== null && nodeReason !== "unknown";
    if (fromNode || this.settleMs <= 0 || pod.nodeName === "") {
      this.events.jobPodInterrupted({ project: pod.job.project, reason });
      return;
    }
    // Only a pod already known to be interrupted waits, for a better reason: one that merely
    // went away is never counted because of a sign its node shows afterwards.
    this.undecided.push({ project: pod.job.project, nodeName: pod.nodeName, reason, decideAtMs: nowMs + this.settleMs });
    this.settle(nowMs);
  }

  private forget(tracked: TrackedPod): void {
    this.pods.delete(tracked.snapshot.uid);
    if (tracked.snapshot.job) this.events.jobPodChanged(tracked.snapshot, undefined);
  }

  /** Any pod, CI or not, failed by node shutdown is a sign for its node, if it failed lately. */
  private noteNodeEvidence(pod: PodSnapshot, nowMs: number): void {
    const evidence = evidenceFromPodFailure(pod.phase, pod.statusReason);
    if (evidence !== null && pod.finishedAtMs !== null) this.nodes.noteEvidence(pod.nodeName, evidence, pod.finishedAtMs, nowMs);
  }

  /**
   * Observes each builder run that ended, once. A run that ended after the pod's deletion was
   * asked for was killed by it (gitlab-runner deletes a job's pod with its containers still
   * running; a drain deletes them mid-build): no build result, and never observed.
   */
  private observeBuilds(tracked: TrackedPod, observe: boolean): void {
    const pod = tracked.snapshot;
    const killedFrom = pod.deletionRequestedAtMs ?? Infinity;
    for (const container of pod.containers) {
      if (container.builder === null) continue;
      let latest = tracked.observedRunStart.get(container.name) ?? -Infinity;
      for (const run of container.finishedRuns) {
        if (run.startedAtMs <= latest) continue;
        latest = run.startedAtMs;
        if (!observe || run.finishedAtMs >= killedFrom) continue;
        this.events.buildFinished({
          builder: container.builder,
          project: pod.job?.project ?? "",
          result: run.exitCode === 0 ? "success" : "failure",
          durationSeconds: Math.max(0, (run.finishedAtMs - run.startedAtMs) / 1000),
        });
      }
      if (latest !== -Infinity) tracked.observedRunStart.set(container.name, latest);
    }
  }
}
