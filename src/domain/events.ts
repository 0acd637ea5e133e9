import type { FinishedStatus } from "./job.js";
import type { RemovalReason } from "./node.js";
import type { PipelineFinalStatus } from "./pipeline.js";
import type { JobPodStartup, NodeSnapshot, PodSnapshot } from "./pod.js";

/**
 * The facts that travel between the layers. Sources tell what they saw (a job observation, a pod
 * or node snapshot, the projects discovery found); state concludes what happened once (a job
 * finished, a build ended, a spot node went) and families count it. Every type here is plain
 * data: no layer needs another's classes to speak to it.
 */

/**
 * How a source came to report a job: `transition` when it reports the change as it happens (a
 * Job Hook is sent for the transition itself; a REST job above the project's watermark did not
 * exist at the previous visit), so a finish or a start without a timestamp is new; `listing` when
 * it lists state that may be history (a Pipeline Hook names every build of its pipeline; a poll
 * reads old jobs too), so only a timestamp can tell that it happened under the exporter's watch.
 */
export type JobReport = "transition" | "listing";

/** A project the exporter watches, as discovery found it. */
export interface WatchedProject {
  readonly id: number;
  /** `path_with_namespace`: the `project` label of every family. */
  readonly path: string;
}

/** A job left the queue under the exporter's watch: its wait is observed once. */
export interface JobStarted {
  readonly projectId: number;
  readonly queuedDurationSeconds: number;
}

/** A job reached success, failed or canceled: counted once, whichever source told first. */
export interface JobFinished {
  readonly jobId: number;
  readonly projectId: number;
  readonly status: FinishedStatus;
  readonly failureReason: string;
  readonly runner: string;
  readonly durationSeconds: number | null;
}

/** A pipeline reached a final status: counted once, at the first final status any source told. */
export interface PipelineFinished {
  readonly pipelineId: number;
  readonly projectId: number;
  readonly status: PipelineFinalStatus;
}

/** A CI job pod went away because its node did, or was evicted: counted once per pod. */
export interface JobPodInterrupted {
  readonly project: string;
  readonly reason: string;
  /** The node group and zone of the node it ran on; "" when that node was not known. */
  readonly nodegroup: string;
  readonly zone: string;
}

/** An image build ended: observed once per build. */
export interface BuildFinished {
  readonly builder: string;
  /** "" when the build ran outside a CI job pod (a plain Kubernetes Job). */
  readonly project: string;
  readonly result: "success" | "failure";
  readonly durationSeconds: number;
}

/** A spot node disappeared: observed once per node, with the strongest sign of why. */
export interface SpotNodeRemoved {
  readonly node: NodeSnapshot;
  readonly reason: RemovalReason;
  readonly lifetimeSeconds: number;
}

/** GitLab named a job's pipeline (every observation that carries it, repeats included). */
export interface PipelineNamed {
  readonly jobId: number;
  readonly pipelineId: number;
}

/** A CI job pod appeared, changed or went away (`next` undefined). */
export interface JobPodChanged {
  readonly previous: PodSnapshot | undefined;
  readonly next: PodSnapshot | undefined;
  /**
   * `next` comes from the first list after start-up: what it shows had happened may have happened
   * before the exporter watched (and been observed by its previous run), so it is not observed.
   */
  readonly fromFirstList: boolean;
  /**
   * For a pod that went away: true when a re-list found it missing, its deletion unseen, so when
   * it ended is not known (only that it was there when the pods were last heard of).
   */
  readonly endUnseen?: boolean;
}

/** A CI job pod's build container started under the exporter's watch: observed once per pod. */
export type JobPodStarted = JobPodStartup;

/** A spot node appeared, changed its labels or went away (`next` undefined). */
export interface SpotNodeChanged {
  readonly previous: NodeSnapshot | undefined;
  readonly next: NodeSnapshot | undefined;
}

/** How the exporter answered a webhook delivery. */
export type WebhookOutcome = "accepted" | "duplicate" | "ignored" | "unauthorized" | "invalid" | "too_large" | "shed" | "unforwarded";
