import { createHash } from "node:crypto";
import type { JobReport, WatchedProject, WebhookOutcome } from "../../domain/events.js";
import type { JobObservation } from "../../domain/job.js";
import type { PipelineObservation } from "../../domain/pipeline.js";
import { BoundedMap } from "../../lib/bounded-map.js";
import { ignoreRejections, type Rejections } from "../../lib/rejections.js";
import { observeHookPipeline } from "./pipeline-wire.js";
import { describeIssues, jobHookSchema, observeJobHook, observePipelineHook, pipelineHookSchema } from "./wire.js";

export interface WebhookResult {
  readonly outcome: WebhookOutcome;
  /** HTTP status to answer GitLab with. */
  readonly status: number;
  readonly reason: string;
}

/** A job a delivery named but could not place (its tags are not in hooks), and its pipeline. */
export interface UnplacedJob {
  readonly jobId: number;
  readonly pipelineId: number | null;
}

/** Where a delivery's job observations go: the job state. */
export interface JobObservationSink {
  /**
   * `report` says whether the delivery reports the transition itself (a Job Hook) or lists
   * builds (a Pipeline Hook). "needs-details" when the job cannot be placed without what only the
   * API tells (its tags).
   */
  apply(observation: JobObservation, report: JobReport): "changed" | "unchanged" | "needs-details";
}

/** Where the pipelines that deliveries and the pipelines check report go: the pipeline state. */
export interface PipelineObservationSink {
  /** `report`: "transition" for a Pipeline Hook (sent for each change of status), "listing" for a poll. */
  apply(observation: PipelineObservation, report: JobReport): "changed" | "unchanged";
}

/** The projects the exporter watches, by id: deliveries for any other are acknowledged and dropped. */
export interface WatchedProjectLookup {
  get(id: number): WatchedProject | undefined;
}

/** Where deliveries tell the poller which projects are active. */
export interface ActivitySink {
  /** A delivery touched this project: keep it hot. */
  keepHot(projectId: number): void;
  /**
   * A delivery named jobs it could not place: keep the project hot and poll it soon for their
   * details, which may be older than anything a poll of the newest jobs reads.
   */
  placeJobsSoon(projectId: number, jobs: readonly UnplacedJob[]): void;
}

/** The `event` label: GitLab's own event names, anything else folded so a client cannot grow the label. */
export const KNOWN_EVENTS = [
  "Job Hook",
  "Pipeline Hook",
  "Push Hook",
  "Tag Push Hook",
  "Issue Hook",
  "Note Hook",
  "Merge Request Hook",
  "Wiki Page Hook",
  "Deployment Hook",
  "Release Hook",
  "Feature Flag Hook",
  "Emoji Hook",
  "Resource Access Token Hook",
  "Member Hook",
  "Subgroup Hook",
  "Project Hook",
  "Milestone Hook",
  "Vulnerability Hook",
  "System Hook",
] as const;

export function eventLabel(header: string | undefined): string {
  if (!header) return "none";
  return (KNOWN_EVENTS as readonly string[]).includes(header) ? header : "other";
}

/** Idempotency keys remembered: GitLab re-sends a failed delivery with the same key. */
const IDEMPOTENCY_KEYS_CAPACITY = 10_000;

/**
 * A key is remembered as 128 bits of its SHA-256, 22 characters whatever the key's length, so
 * the set holds at most 10,000 short strings even when a client sends keys of kilobytes.
 */
export function idempotencyDigest(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 22);
}

/**
 * Turns authentic webhook deliveries into job observations. Never calls the GitLab API itself:
 * a job it cannot place (its tags are not in the payload) only makes the poller look at the
 * project soon, which costs one request per project, not one per event.
 */
/** What the webhook endpoint hands authentic deliveries to. */
export interface WebhookReceiver {
  receive(event: string | undefined, body: unknown, idempotencyKey: string | undefined): WebhookResult;
}

export class GitLabWebhookSource implements WebhookReceiver {
  /** Digests of the idempotency keys seen, the oldest forgotten first. */
  private readonly seenKeys = new BoundedMap<string, true>(IDEMPOTENCY_KEYS_CAPACITY);

  constructor(
    private readonly jobs: JobObservationSink,
    private readonly pipelines: PipelineObservationSink,
    private readonly projects: WatchedProjectLookup,
    private readonly activity: ActivitySink,
    /** Told of each payload refused and each hook field refused as implausible. */
    private readonly rejections: Rejections = ignoreRejections,
    private readonly now: () => number = Date.now,
  ) {}

  receive(event: string | undefined, body: unknown, idempotencyKey: string | undefined): WebhookResult {
    // An authentic delivery is always acknowledged: GitLab disables a hook that keeps failing, and
    // a disabled hook would cut off the job events of every project it serves.
    if (!event) return { outcome: "invalid", status: 200, reason: "missing X-Gitlab-Event header" };
    if (event !== "Job Hook" && event !== "Pipeline Hook") {
      // Acknowledged: GitLab disables a hook that keeps failing, which would cut off job events too.
      return { outcome: "ignored", status: 200, reason: `event ${JSON.stringify(eventLabel(event))} is not used` };
    }
    const keyDigest = idempotencyKey === undefined ? undefined : idempotencyDigest(idempotencyKey);
    if (keyDigest !== undefined && this.seenKeys.has(keyDigest)) {
      return { outcome: "duplicate", status: 200, reason: "delivery already received" };
    }

    const receivedAt = this.now();
    let projectId: number;
    let observations: JobObservation[];
    // A Job Hook is sent for the transition it reports; a Pipeline Hook lists every build of its
    // pipeline, also those that finished long ago.
    let report: JobReport;
    let pipeline: PipelineObservation | null = null;
    if (event === "Job Hook") {
      const parsed = jobHookSchema.safeParse(body);
      if (!parsed.success) return this.invalid(event, describeIssues(parsed.error), body);
      projectId = parsed.data.project_id;
      observations = [observeJobHook(parsed.data, receivedAt, this.rejections)];
      report = "transition";
    } else {
      const parsed = pipelineHookSchema.safeParse(body);
      if (!parsed.success) return this.invalid(event, describeIssues(parsed.error), body);
      projectId = parsed.data.project.id;
      observations = observePipelineHook(parsed.data, receivedAt, this.rejections);
      pipeline = observeHookPipeline(parsed.data, receivedAt, this.rejections);
      report = "listing";
    }
    if (keyDigest !== undefined) this.seenKeys.set(keyDigest, true);

    if (this.projects.get(projectId) === undefined) {
      return { outcome: "ignored", status: 200, reason: `project ${projectId} is not watched` };
    }
    // A Pipeline Hook is sent for the change of status it reports.
    let changed = pipeline !== null && this.pipelines.apply(pipeline, "transition") === "changed";
    const unplaced: UnplacedJob[] = [];
    for (const observation of observations) {
      const result = this.jobs.apply(observation, report);
      changed ||= result === "changed";
      if (result === "needs-details") unplaced.push({ jobId: observation.id, pipelineId: observation.pipelineId ?? null });
    }
    if (unplaced.length > 0) this.activity.placeJobsSoon(projectId, unplaced);
    else this.activity.keepHot(projectId);
    if (changed || unplaced.length > 0) return { outcome: "accepted", status: 200, reason: "ok" };
    return { outcome: "duplicate", status: 200, reason: "no new information" };
  }

  /**
   * An authentic delivery that cannot be read: counted, logged, acknowledged with 200 (a 4xx would
   * count towards GitLab disabling the hook), and its project, when the body names a watched one,
   * kept hot so that polling reads the truth soon.
   */
  private invalid(event: string, issues: string, body: unknown): WebhookResult {
    this.rejections.reject("gitlab_webhook", "schema", { event, issues });
    const projectId = projectIdOf(body);
    if (projectId !== undefined && this.projects.get(projectId) !== undefined) this.activity.keepHot(projectId);
    return { outcome: "invalid", status: 200, reason: `invalid ${event} payload: ${issues}` };
  }

  /** Idempotency keys remembered now (their digests). */
  get rememberedKeys(): number {
    return this.seenKeys.size;
  }
}

/** The project a delivery names, if it names one plainly: `project_id` (Job Hook) or `project.id`. */
export function projectIdOf(body: unknown): number | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { project_id: id, project } = body as { project_id?: unknown; project?: unknown };
  const candidate = typeof id === "number" ? id : typeof project === "object" && project !== null ? (project as { id?: unknown }).id : undefined;
  return typeof candidate === "number" && Number.isSafeInteger(candidate) && candidate > 0 ? candidate : undefined;
}
