import type { BuildFinished, JobPodChanged, JobPodInterrupted, PipelineNamed } from "../domain/events.js";
import { interruptionReason } from "../domain/interruption.js";
import { evidenceFromPodFailure } from "../domain/node.js";
import { isTracked, type PodSnapshot } from "../domain/pod.js";
import { Listeners } from "../lib/listeners.js";
import type { JobLinks } from "./job-links.js";
import type { NodeOccupants } from "./node-occupants.js";
import type { NodePlacement, NodeStore } from "./nodes.js";

export interface PodStoreOptions {
  /**
   * How long an interruption that only the pod tells of (a `DisruptionTarget` condition, a
   * node-shutdown failure) waits for a removal sign from its node. Nodes and pods come on
   * separate watches, so a node's taint may arrive just after the pods it evicted. 0: no wait.
   */
  readonly settleMs?: number;
  /**
   * What the GitLab side knows of the same jobs: their pipelines, and the outcome of builds whose
   * container never ends on its own.
   */
  readonly links?: JobLinks;
  /** The clock of the settle timer; `Date.now` when absent. */
  readonly now?: () => number;
  /**
   * Whether this shard tracks the pod (every pod when absent). A pod not its own still tells its
   * node's signs; one tracked stays tracked until it goes, so its series never hop shards.
   */
  readonly owns?: (pod: PodSnapshot) => boolean;
  /** Where the pods it does not track go, for the nodes whose time this shard counts. */
  readonly occupants?: NodeOccupants;
}

export interface ApplyOptions {
  readonly nowMs: number;
  /**
   * Whether builds that already ended count. False for the first list after start-up: those ran
   * before we watched, and a restarted exporter must not observe them again.
   */
  readonly observeEndedBuilds: boolean;
}

/** An interruption told by the pod alone, waiting briefly for its node to say more. */
interface Undecided {
  readonly project: string;
  readonly nodeName: string;
  readonly placement: NodePlacement;
  readonly reason: string;
  readonly decideAtMs: number;
}

interface TrackedPod {
  snapshot: PodSnapshot;
  /** Per builder container, the start of the latest run already observed; null until a run was (most pods never run a builder). */
  observedRunStart: Map<string, number> | null;
}

/**
 * The pods that matter now (CI job pods, pods running an image builder), keyed by uid. Applying
 * the same snapshot twice changes nothing; a pod is removed once, whether its DELETED event or a
 * re-list tells, and that is when an interruption is decided.
 */
export class PodStore {
  private readonly pods = new Map<string, TrackedPod>();
  /** CI job pods' uids by job id, to fill in a pipeline learned after the pod. */
  private readonly uidByJobId = new Map<number, string>();
  /** In the order they went, so the oldest is decided first. */
  private undecided: Undecided[] = [];
  /** Runs while interruptions wait, to decide them when their wait is over. */
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly settleMs: number;
  private readonly links: JobLinks | undefined;
  private readonly now: () => number;
  private readonly owns: (pod: PodSnapshot) => boolean;
  private readonly occupants: NodeOccupants | undefined;
  /** A CI job pod appeared, changed (its pipeline learned included) or went away. */
  readonly onJobPodChanged = new Listeners<JobPodChanged>();
  /** A CI job pod went away because its node did, or was evicted: once per pod. */
  readonly onInterrupted = new Listeners<JobPodInterrupted>();
  /** A builder container run ended: observed once per run. */
  readonly onBuildFinished = new Listeners<BuildFinished>();

  constructor(
    private readonly nodes: NodeStore,
    options: PodStoreOptions = {},
  ) {
    this.settleMs = options.settleMs ?? 0;
    this.links = options.links;
    this.now = options.now ?? (() => Date.now());
    this.owns = options.owns ?? (() => true);
    this.occupants = options.occupants;
    this.links?.onPipeline.add((named) => this.pipelineLearned(named));
    // A node's removal sign may decide the interruptions its pods are waiting on.
    nodes.onChanged.add((nowMs) => this.decideWaitingInterruptions(nowMs));
  }

  upsert(received: PodSnapshot, options: ApplyOptions): void {
    this.noteNodeEvidence(received, options.nowMs);
    const tracked = this.pods.get(received.uid);
    if (!tracked && !this.owns(received)) return this.occupants?.upsert(received, !options.observeEndedBuilds);
    if (!isTracked(received)) {
      // Labels changed so that it no longer is a job pod: forget it, it was not interrupted.
      if (tracked) this.forget(tracked);
      return;
    }
    const snapshot = this.withKnownPipeline(received);
    if (tracked?.snapshot.job && tracked.snapshot.job.jobId !== snapshot.job?.jobId) this.uidByJobId.delete(Number(tracked.snapshot.job.jobId));
    if (snapshot.job) this.uidByJobId.set(Number(snapshot.job.jobId), snapshot.uid);
    if (!tracked) {
      this.occupants?.forget(snapshot.uid);
      const pod: TrackedPod = { snapshot, observedRunStart: null };
      this.pods.set(snapshot.uid, pod);
      if (snapshot.job) this.onJobPodChanged.emit({ previous: undefined, next: snapshot, fromFirstList: !options.observeEndedBuilds });
      this.observeBuilds(pod, options.observeEndedBuilds);
      this.noteBuildJob(snapshot);
      return;
    }
    const previous = tracked.snapshot;
    tracked.snapshot = snapshot;
    if (previous.job || snapshot.job) this.onJobPodChanged.emit({ previous: previous.job ? previous : undefined, next: snapshot.job ? snapshot : undefined, fromFirstList: !options.observeEndedBuilds });
    this.observeBuilds(tracked, true);
    this.noteBuildJob(snapshot);
  }

  /** A pod was deleted; `final` is its last state (the watch's DELETED object). */
  remove(final: PodSnapshot, nowMs: number): void {
    const tracked = this.pods.get(final.uid);
    this.noteNodeEvidence(final, nowMs);
    if (!tracked) return this.occupants?.remove(final);
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
      if ((namespace === null || pod.namespace === namespace) && !listed.has(pod.uid)) this.depart(tracked, options.nowMs, "missing-from-list");
    }
    this.occupants?.missing(namespace, listed);
    for (const snapshot of snapshots) this.upsert(snapshot, options);
  }

  /**
   * Decides the interruptions whose wait is over, or whose node has since shown why it went. The
   * store calls it itself, on node changes and from its timer while interruptions wait; calling
   * it more often changes nothing.
   */
  decideWaitingInterruptions(nowMs: number): void {
    if (this.undecided.length === 0) return;
    const waiting: Undecided[] = [];
    for (const entry of this.undecided) {
      const nodeReason = this.nodes.departure(entry.nodeName, nowMs);
      if (nodeReason !== null && nodeReason !== "unknown") this.onInterrupted.emit({ project: entry.project, reason: nodeReason, ...entry.placement });
      else if (nowMs >= entry.decideAtMs) this.onInterrupted.emit({ project: entry.project, reason: entry.reason, ...entry.placement });
      else waiting.push(entry);
    }
    this.undecided = waiting;
    if (waiting.length === 0) this.stopSettleTimer();
  }

  /** Stops the settle timer; interruptions still waiting are decided at the next change. */
  close(): void {
    this.stopSettleTimer();
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

  /** `how`: a DELETED watch event, or the pod missing from a re-list (its deletion not seen). */
  private depart(tracked: TrackedPod, nowMs: number, how: "deleted" | "missing-from-list" = "deleted"): void {
    const pod = tracked.snapshot;
    this.pods.delete(pod.uid);
    if (!pod.job) return;
    this.unindex(pod);
    this.onJobPodChanged.emit({ previous: pod, next: undefined, fromFirstList: false, endUnseen: how === "missing-from-list" });
    const nodeReason = this.nodes.departure(pod.nodeName, nowMs, { podSeenGoing: how === "deleted" });
    const reason = interruptionReason({ nodeReason, disruption: pod.disruption, phase: pod.phase, statusReason: pod.statusReason });
    if (reason === null) return;
    const fromNode = nodeReason !== null && nodeReason !== "unknown";
    const placement = this.nodes.placement(pod.nodeName);
    if (fromNode || this.settleMs <= 0 || pod.nodeName === "") {
      this.onInterrupted.emit({ project: pod.job.project, reason, ...placement });
      return;
    }
    // Only a pod already known to be interrupted waits, for a better reason: one that merely
    // went away is never counted because of a sign its node shows afterwards.
    this.undecided.push({ project: pod.job.project, nodeName: pod.nodeName, placement, reason, decideAtMs: nowMs + this.settleMs });
    this.decideWaitingInterruptions(nowMs);
    if (this.undecided.length > 0) this.startSettleTimer();
  }

  /** Ticks at half the wait (between 50 ms and a second), unref'd: it never holds the process. */
  private startSettleTimer(): void {
    if (this.settleTimer) return;
    const everyMs = Math.max(50, Math.min(1000, this.settleMs / 2));
    this.settleTimer = setInterval(() => this.decideWaitingInterruptions(this.now()), everyMs);
    this.settleTimer.unref();
  }

  private stopSettleTimer(): void {
    clearInterval(this.settleTimer);
    this.settleTimer = undefined;
  }

  private forget(tracked: TrackedPod): void {
    this.pods.delete(tracked.snapshot.uid);
    if (tracked.snapshot.job) {
      this.unindex(tracked.snapshot);
      this.onJobPodChanged.emit({ previous: tracked.snapshot, next: undefined, fromFirstList: false });
    }
  }

  private unindex(pod: PodSnapshot): void {
    const jobId = Number(pod.job!.jobId);
    if (this.uidByJobId.get(jobId) === pod.uid) this.uidByJobId.delete(jobId);
  }

  /** The pod with its job's pipeline, when its own keys do not name it and GitLab did. */
  private withKnownPipeline(pod: PodSnapshot): PodSnapshot {
    if (!pod.job || pod.job.pipelineId !== "" || !this.links) return pod;
    const pipelineId = this.links.pipelineOf(Number(pod.job.jobId));
    return pipelineId === undefined ? pod : { ...pod, job: { ...pod.job, pipelineId: String(pipelineId) } };
  }

  private pipelineLearned({ jobId, pipelineId }: PipelineNamed): void {
    const uid = this.uidByJobId.get(jobId);
    const tracked = uid === undefined ? undefined : this.pods.get(uid);
    const previous = tracked?.snapshot;
    if (!tracked || !previous?.job || previous.job.pipelineId !== "") return;
    tracked.snapshot = { ...previous, job: { ...previous.job, pipelineId: String(pipelineId) } };
    this.onJobPodChanged.emit({ previous, next: tracked.snapshot, fromFirstList: false });
  }

  /** A CI job pod whose `build` container runs a builder: the job's end tells the build's. */
  private noteBuildJob(pod: PodSnapshot): void {
    if (!pod.job || !this.links) return;
    const builder = pod.containers.find((c) => c.builder !== null)?.builder;
    if (builder) this.links.buildJobSeen(Number(pod.job.jobId), { builder, project: pod.job.project });
  }

  /** Any pod, CI or not, failed by node shutdown is a sign for its node, if it failed lately. */
  private noteNodeEvidence(pod: PodSnapshot, nowMs: number): void {
    const evidence = evidenceFromPodFailure(pod.phase, pod.statusReason);
    if (evidence !== null && pod.finishedAtMs !== null) this.nodes.noteEvidence(pod.nodeName, evidence, pod.finishedAtMs, nowMs);
  }

  /**
   * Observes each builder run that ended, once. A run that ended after the pod's deletion was
   * asked for was killed by it (gitlab-runner deletes a job's pod with its containers still
   * running; a drain deletes them mid-build): no build result, and never observed. A CI job's
   * build is observed once in all, from its container or from the job's end (`JobLinks`).
   */
  private observeBuilds(tracked: TrackedPod, observe: boolean): void {
    const pod = tracked.snapshot;
    const killedFrom = pod.deletionRequestedAtMs ?? Infinity;
    const jobId = pod.job ? Number(pod.job.jobId) : null;
    for (const container of pod.containers) {
      if (container.builder === null) continue;
      let latest = tracked.observedRunStart?.get(container.name) ?? -Infinity;
      for (const run of container.finishedRuns) {
        if (run.startedAtMs <= latest) continue;
        latest = run.startedAtMs;
        if (!observe || run.finishedAtMs >= killedFrom) continue;
        if (jobId !== null && this.links && !this.links.claimBuildForContainer(jobId)) continue;
        this.onBuildFinished.emit({
          builder: container.builder,
          project: pod.job?.project ?? "",
          result: run.exitCode === 0 ? "success" : "failure",
          durationSeconds: Math.max(0, (run.finishedAtMs - run.startedAtMs) / 1000),
        });
      }
      if (latest !== -Infinity) (tracked.observedRunStart ??= new Map()).set(container.name, latest);
    }
  }
}
