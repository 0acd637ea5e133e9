import type { Logger } from "pino";
import type { WatchedProject } from "../../domain/events.js";
import { backoffDelayMs } from "../../lib/backoff.js";
import type { GitLabApi } from "./api.js";
import { failureLog, GitLabFailure } from "./failure-log.js";
import { GitLabRequestError } from "./request-error.js";

export interface DirectoryOptions {
  /** Project paths or ids from `GITLAB_PROJECTS`. */
  readonly projects: readonly string[];
  /** Group paths from `GITLAB_GROUPS`. */
  readonly groups: readonly string[];
  /** How often `discover` runs: spreads the re-resolution of listed projects over the rounds. */
  readonly discoveryIntervalMs: number;
  /** Each listed project is resolved again about this often (default 6 hours). */
  readonly listedRefreshMs?: number;
  /**
   * Whether this shard watches the project; all when absent. A listed id of another shard is
   * not even resolved; a listed path is, as only its answer tells its id.
   */
  readonly owns?: (projectId: number) => boolean;
  readonly now?: () => number;
}

/** A listed project that is resolved (or tried) again about every six hours. */
export const LISTED_REFRESH_MS = 6 * 60 * 60_000;
/** A listed project that could not be resolved (404, 403) is tried again with backoff up to this. */
const UNRESOLVED_RETRY_MAX_MS = 60 * 60_000;
/** Re-resolutions of listed projects per discovery round, at most, after the first round. */
const MAX_LISTED_PER_ROUND = 50;

/** The endpoints discovery reads. */
export type DirectoryApi = Pick<GitLabApi, "project" | "groupProjects">;

interface ListedRef {
  readonly ref: string;
  /** What the last resolution found; null when not found (or not yet tried). */
  project: WatchedProject | null;
  archived: boolean;
  tried: boolean;
  failures: number;
  dueAtMs: number;
}

/**
 * Resolves the configured projects and groups into the set of projects to watch.
 *
 * Groups are listed whole every round (a page per 100 projects), which also notices projects
 * added, moved or deleted. Projects listed in `GITLAB_PROJECTS` are resolved one request each at
 * the first round, and after that again only about every `LISTED_REFRESH_MS`, spread over the
 * rounds and bounded per round: with 1,000 listed projects and the default 300 s interval, about
 * 14 requests a round (0.05/s) rather than 1,000. A listed project that was deleted or lost
 * access is noticed by its polls (404/403), which ask for it to be resolved at the next round.
 *
 * A listed project or group that is gone or forbidden is skipped with a warning and retried with
 * backoff; any other failure fails the round, so a GitLab outage never empties the watched set.
 * That includes a group whose list goes on past the page cap (`MAX_LISTING_PAGES`, 10,000
 * projects), a redirect and an oversized answer: a part of a group is never taken for the whole.
 */
export class ProjectDirectory {
  private readonly listed: ListedRef[];
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly api: DirectoryApi,
    private readonly options: DirectoryOptions,
    private readonly log: Logger,
  ) {
    this.refreshMs = options.listedRefreshMs ?? LISTED_REFRESH_MS;
    this.now = options.now ?? Date.now;
    const owns = options.owns ?? (() => true);
    this.listed = [...new Set(options.projects)]
      .filter((ref) => !/^\d+$/.test(ref) || owns(Number(ref)))
      .map((ref) => ({ ref, project: null, archived: false, tried: false, failures: 0, dueAtMs: 0 }));
  }

  /** The projects to watch now, every shard's, sorted by id. */
  async discover(): Promise<WatchedProject[]> {
    const found = new Map<number, WatchedProject>();
    for (const group of this.options.groups) {
      let projects;
      try {
        projects = await this.api.groupProjects(group);
      } catch (error) {
        if (!isGoneOrForbidden(error)) throw new GitLabFailure({ group }, error);
        const { msg, fields } = failureLog(error, { group });
        this.log.warn(fields, `${msg}; skipped until the next discovery`);
        continue;
      }
      for (const project of projects) {
        if (!project.archived) found.set(project.id, { id: project.id, path: project.path_with_namespace });
      }
    }
    await this.resolveDueListed();
    for (const entry of this.listed) {
      if (entry.project && !entry.archived) found.set(entry.project.id, entry.project);
    }
    return [...found.values()].sort((a, b) => a.id - b.id);
  }

  /** A poll of this project answered 404 or 403: resolve the listed project again at the next round. */
  recheckSoon(projectId: number): void {
    for (const entry of this.listed) if (entry.project?.id === projectId) entry.dueAtMs = 0;
  }

  /** Resolutions the next round would make, for tests and logs. */
  dueCount(): number {
    const now = this.now();
    return this.listed.filter((e) => e.dueAtMs <= now).length;
  }

  private roundQuota(): number {
    // Enough per round for every listed project to come round once per refresh period.
    const perRound = Math.ceil((this.listed.length * this.options.discoveryIntervalMs) / this.refreshMs);
    return Math.min(Math.max(1, perRound), MAX_LISTED_PER_ROUND);
  }

  private async resolveDueListed(): Promise<void> {
    const now = this.now();
    const untried = this.listed.filter((e) => !e.tried);
    // First resolutions are all made at once: the exporter cannot watch a project it cannot name.
    const due = this.listed
      .filter((e) => e.tried && e.dueAtMs <= now)
      .sort((a, b) => a.dueAtMs - b.dueAtMs)
      .slice(0, this.roundQuota());
    const firstRound = untried.length;
    for (const [index, entry] of [...untried, ...due].entries()) {
      await this.resolve(entry);
      if (index < firstRound && entry.project) {
        // Spread the next resolutions evenly over the refresh period, so no round resolves them all.
        entry.dueAtMs = this.now() + Math.round((this.refreshMs * (index + 1)) / firstRound);
      }
    }
  }

  private async resolve(entry: ListedRef): Promise<void> {
    const { ref } = entry;
    try {
      const project = await this.api.project(/^\d+$/.test(ref) ? Number(ref) : ref);
      const firstTime = !entry.tried;
      entry.tried = true;
      entry.failures = 0;
      entry.project = { id: project.id, path: project.path_with_namespace };
      if (project.archived && (firstTime || !entry.archived)) {
        this.log.warn({ project: project.path_with_namespace }, "configured project is archived and runs no jobs; not watched");
      }
      entry.archived = project.archived ?? false;
      entry.dueAtMs = this.now() + this.refreshMs;
    } catch (error) {
      if (!isGoneOrForbidden(error)) throw new GitLabFailure({ listedProject: ref }, error);
      entry.tried = true;
      entry.failures++;
      entry.project = null;
      const retryMs = backoffDelayMs(entry.failures, { initialMs: this.options.discoveryIntervalMs, maxMs: Math.min(UNRESOLVED_RETRY_MAX_MS, this.refreshMs) });
      entry.dueAtMs = this.now() + retryMs;
      const { msg, fields } = failureLog(error, { listedProject: ref });
      this.log.warn({ ...fields, retryInMs: retryMs }, `${msg}; skipped, tried again in ${Math.round(retryMs / 1000)} s`);
    }
  }
}

export function isGoneOrForbidden(error: unknown): boolean {
  return error instanceof GitLabRequestError && (error.status === 404 || error.status === 403);
}
