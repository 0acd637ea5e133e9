import type { Logger } from "pino";
import type { WatchedProject } from "../../../domain/events.js";
import { describeError } from "../../../lib/errors.js";
import type { GitLabClock } from "../clock.js";
import { GraphqlQueryError } from "../graphql/client.js";
import type { InstanceSweep } from "../graphql/instance.js";
import type { GroupSweep, SweepRead, SweptProject } from "../graphql/sweep.js";
import { GitLabRequestError } from "../request-error.js";
import { PIPELINES_OVERLAP_MS } from "./pipeline-check.js";
import type { JobSink } from "./sinks.js";

/** How the exporter learns what is live: the instance's jobs, a sweep of groups and projects, or REST alone. */
export type ReadPath = "instance" | "sweep" | "rest";
/** `GITLAB_READ_PATH`: `auto` takes the first of instance, sweep and REST that works. */
export type ReadPathSetting = "auto" | ReadPath;
export const READ_PATHS: readonly ReadPath[] = ["instance", "sweep", "rest"];

/** After GraphQL was found unavailable, it is tried again this much later. */
export const GRAPHQL_RETRY_MS = 10 * 60_000;
/** Sweeps failing in a row (an HTML portal, a GitLab that keeps erring) before REST takes over. */
export const MAX_SWEEP_FAILURES = 3;

export interface SweepLoopDeps {
  readonly setting: ReadPathSetting;
  readonly groups: Pick<GroupSweep, "read">;
  readonly instance: Pick<InstanceSweep, "seesInstance" | "read">;
  readonly jobs: Pick<JobSink, "apply" | "liveJobIds">;
  /** The readable watched projects. */
  readonly watched: () => readonly WatchedProject[];
  /** The sweep found something only REST can tell (how jobs ended, lists cut short): read this project soon. */
  readonly readByRest: (projectId: number) => void;
  /** A sweep read the project's live jobs. */
  readonly swept: (projectId: number) => void;
  readonly clock: GitLabClock;
  readonly log: Logger;
  readonly now: () => number;
  readonly onReadPath: (path: ReadPath) => void;
  readonly onSweep: (path: ReadPath, outcome: "ok" | "failed", requests: number) => void;
}

/**
 * One sweep per tick on the read path in use, applied to the job state: live jobs as listed,
 * and projects where something ended, or whose lists were cut short, sent to REST. GraphQL
 * refused (404 or 403: switched off, blocked by a proxy, too old a GitLab) or a query GitLab
 * does not know makes REST the read path, tried again every `GRAPHQL_RETRY_MS`.
 */
export class SweepLoop {
  private path: ReadPath | null = null;
  private retryAtMs = 0;
  private failures = 0;
  /** GitLab time (ms) the previous sweep started at; null before the first. */
  private sinceMs: number | null = null;
  private sweptOnce = false;

  constructor(private readonly deps: SweepLoopDeps) {}

  get readPath(): ReadPath | null {
    return this.path;
  }

  /** A sweep read every watched project once (on the REST path, never). */
  get hasSwept(): boolean {
    return this.sweptOnce;
  }

  /** Sweeps read every project now: REST first visits need not hurry. */
  get covering(): boolean {
    return this.sweptOnce && this.path !== null && this.path !== "rest";
  }

  /** The first sweep is under way and nothing failed yet: first visits wait for it. */
  get settling(): boolean {
    return this.deps.setting !== "rest" && !this.sweptOnce && this.failures === 0 && this.path !== "rest";
  }

  async tick(): Promise<void> {
    if (this.path === null || (this.path === "rest" && this.deps.setting !== "rest" && this.deps.now() >= this.retryAtMs)) {
      try {
        await this.choose();
      } catch (error) {
        // The probe failed for a passing reason: counted as a failed sweep, so first visits stop
        // waiting for it and a GitLab that keeps failing it ends on REST.
        this.failed("instance", error);
        throw error;
      }
    }
    const path = this.path;
    if (path === null || path === "rest") return;
    const startedAtMs = this.deps.clock.atOrBefore(this.deps.now());
    // The first sweep sets the baseline: changes before it are history, read by REST first visits.
    const sinceMs = this.sinceMs === null ? startedAtMs : this.sinceMs - PIPELINES_OVERLAP_MS;
    let read: SweepRead;
    try {
      const watched = this.deps.watched();
      read = path === "instance" ? await this.deps.instance.read(watched) : await this.deps.groups.read(watched, isoSeconds(sinceMs));
    } catch (error) {
      this.deps.onSweep(path, "failed", 0);
      this.failed(path, error);
      throw error;
    }
    this.failures = 0;
    for (const swept of read.projects.values()) this.apply(swept);
    this.sinceMs = startedAtMs;
    this.sweptOnce = true;
    this.deps.onSweep(path, "ok", read.requests);
  }

  private apply(swept: SweptProject): void {
    const { jobs } = this.deps;
    this.deps.swept(swept.projectId);
    const live = new Set<number>();
    for (const job of swept.jobs) {
      live.add(job.id);
      jobs.apply(job, "listing");
    }
    const vanished = swept.complete && jobs.liveJobIds(swept.projectId).some((id) => !live.has(id));
    if (vanished || swept.ended || (!swept.complete && swept.jobs.length > 0)) this.deps.readByRest(swept.projectId);
  }

  private async choose(): Promise<void> {
    const { setting, log } = this.deps;
    let path: ReadPath = setting === "rest" ? "rest" : "sweep";
    if (setting === "auto" || setting === "instance") {
      try {
        if (await this.deps.instance.seesInstance()) path = "instance";
        else if (setting === "instance") log.warn("GITLAB_READ_PATH=instance, but the token does not see the instance's jobs (GitLab lists them to administrators only); sweeping groups and projects instead");
      } catch (error) {
        if (!graphqlUnavailable(error)) throw error;
        path = "rest";
        this.retryAtMs = this.deps.now() + GRAPHQL_RETRY_MS;
        log.warn({ err: describeError(error), retryInMinutes: GRAPHQL_RETRY_MS / 60_000 }, "GitLab GraphQL is unavailable; reading by REST alone");
      }
    }
    this.use(path);
  }

  private failed(path: ReadPath, error: unknown): void {
    if (!graphqlUnavailable(error) && ++this.failures < MAX_SWEEP_FAILURES) return;
    this.failures = 0;
    this.retryAtMs = this.deps.now() + GRAPHQL_RETRY_MS;
    this.deps.log.warn({ err: describeError(error), path, retryInMinutes: GRAPHQL_RETRY_MS / 60_000 }, "GitLab GraphQL sweep unavailable; reading by REST alone");
    this.use("rest");
  }

  private use(path: ReadPath): void {
    if (path !== this.path) this.deps.log.info({ path }, "GitLab read path");
    this.path = path;
    this.deps.onReadPath(path);
  }
}

/** GraphQL itself is refused (not a passing failure): switched off, forbidden, or a schema without our fields. */
export function graphqlUnavailable(error: unknown): boolean {
  if (error instanceof GraphqlQueryError) return error.refusal === "query";
  if (!(error instanceof GitLabRequestError) || error.status === undefined) return false;
  return error.status === 403 || error.status === 404 || error.status === 405 || error.status === 410 || error.status === 422;
}

/** GitLab's `Time`: ISO 8601 in whole seconds. */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
