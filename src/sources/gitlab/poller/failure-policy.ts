import type { Logger } from "pino";
import { isGoneOrForbidden } from "../discovery.js";
import { failureLog, type FailureLog } from "../failure-log.js";
import type { ProjectWatch, ProjectWatches, VisitKind } from "./project-watch.js";
import type { JobSink, ProjectSink } from "./sinks.js";


export interface FailurePolicyDeps {
  readonly watches: Pick<ProjectWatches, "isCurrent">;
  readonly jobs: Pick<JobSink, "dropProject">;
  readonly projects: Pick<ProjectSink, "add" | "removeById">;
  readonly log: Logger;
  readonly now: () => number;
  /** The wait before the next visit after this many consecutive failures. */
  readonly backoffMs: (failures: number) => number;
  /** A project answered 403/404: discovery should look it up again soon. */
  readonly recheck: (projectId: number) => void;
  /** A project became unreadable or readable again: the hot/idle counts changed. */
  readonly readabilityChanged: () => void;
}

/**
 * What a visit's outcome does to a project: a success clears its backoff and brings an
 * unreadable project back; a failure backs off; a 403/404 drops its series but keeps its
 * markers, so the jobs that finish meanwhile are counted once it is readable again.
 */
export class FailurePolicy {
  constructor(private readonly deps: FailurePolicyDeps) {}

  succeeded(watch: ProjectWatch, kind: VisitKind): void {
    watch.visited = true;
    watch.consecutiveFailures = 0;
    watch.notBeforeMs = 0;
    if (kind === "resync") watch.resync = false;
    if (!watch.readable) this.readableAgain(watch);
  }

  /** GitLab answered for an unreadable project: back in the registry, before its jobs are applied. */
  answered(watch: ProjectWatch): void {
    if (!watch.readable) this.readableAgain(watch);
  }

  failed(watch: ProjectWatch, error: unknown): void {
    const { log } = this.deps;
    watch.consecutiveFailures++;
    const backoff = this.deps.backoffMs(watch.consecutiveFailures);
    watch.notBeforeMs = this.deps.now() + backoff;
    const { msg, fields } = failureLog(error, { project: watch.project.path });
    if (isGoneOrForbidden(error)) {
      if (watch.readable) this.becameUnreadable(watch, fields, msg);
      return;
    }
    log.warn({ ...fields, retryInMs: backoff }, `${msg}; tried again in ${Math.round(backoff / 1000)} s`);
  }

  private becameUnreadable(watch: ProjectWatch, fields: FailureLog["fields"], msg: string): void {
    // Deleted, or the token lost access: its series go now. Its markers stay, so the jobs
    // that finish meanwhile are counted once it is readable again.
    this.deps.log.warn(fields, `${msg}; its series are dropped and it is retried with backoff`);
    watch.readable = false;
    watch.resync = true;
    this.deps.jobs.dropProject(watch.project.id);
    this.deps.projects.removeById(watch.project.id);
    this.deps.recheck(watch.project.id);
    this.deps.readabilityChanged();
  }

  private readableAgain(watch: ProjectWatch): void {
    watch.readable = true;
    if (!this.deps.watches.isCurrent(watch)) return;
    this.deps.projects.add(watch.project);
    this.deps.log.info({ project: watch.project.path }, "project readable again; watched again");
    this.deps.readabilityChanged();
  }
}
