import type { SimJobStatus } from "./model.js";

/**
 * Which GitLab the simulator plays: the version its wire shapes follow and where it runs, since
 * GitLab.com and a self-managed instance answer rate limits differently.
 */
export interface GitLabProfile {
  /** `major.minor`, e.g. "16.2". */
  readonly version: string;
  /**
   * GitLab.com sends `RateLimit-*` on most answers (`doc/user/gitlab_com/_index.md`); a
   * self-managed Rack::Attack only on the 429 itself (`lib/gitlab/rack_attack.rb`).
   */
  readonly deployment: "gitlab.com" | "self-managed";
}

/** The default: current GitLab as GitLab.com serves it. */
export const GITLAB_COM: GitLabProfile = { version: "18.6", deployment: "gitlab.com" };
export const SELF_MANAGED: GitLabProfile = { version: "18.6", deployment: "self-managed" };
/**
 * A self-managed GitLab before 16.3: Job Hooks without the `project` object and with
 * `"… UTC"` times, and no limit of its own on the project jobs endpoint (16.5).
 */
export const SELF_MANAGED_16_2: GitLabProfile = { version: "16.2", deployment: "self-managed" };

/** Every profile the simulator plays by name, for suites that run against each. */
export const GITLAB_PROFILES: Readonly<Record<string, GitLabProfile>> = {
  "GitLab.com": GITLAB_COM,
  "self-managed": SELF_MANAGED,
  "self-managed 16.2": SELF_MANAGED_16_2,
};

/**
 * `GET /projects/:id/jobs`'s own limit per user and minute (`project_jobs_api_rate_limit`,
 * `lib/gitlab/application_rate_limiter.rb`): 600 by default from GitLab 16.5, none before.
 */
export function projectJobsRateLimit(profile: GitLabProfile): number | undefined {
  return atLeast(profile, "16.5") ? 600 : undefined;
}

/** True when the profile's version is `version` or later. */
export function atLeast(profile: GitLabProfile, version: string): boolean {
  const [major = 0, minor = 0] = profile.version.split(".").map(Number);
  const [wantMajor = 0, wantMinor = 0] = version.split(".").map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * The Job Hook carries a `project` object (with `path_with_namespace`) and ISO 8601 `*_iso`
 * times from GitLab 16.3 (MR !128502); older ones only `project_id`/`project_name` and
 * `"YYYY-MM-DD HH:MM:SS UTC"` times (`lib/gitlab/data_builder/build.rb`).
 */
export function hasModernJobHook(profile: GitLabProfile): boolean {
  return atLeast(profile, "16.3");
}

const FINISHED_WITH_HOOK: ReadonlySet<SimJobStatus> = new Set(["success", "failed", "canceled"]);

/**
 * Whether GitLab sends a Job Hook for this change of a build (`after_transition` in
 * `app/models/ci/build.rb`): `any => [:pending]`, `pending: :running`,
 * `any => [:success, :failed, :canceled]`, and one when the build is created (`previous` null).
 * Nothing for skipped, manual, scheduled, preparing, waiting_for_resource or canceling.
 */
export function sendsJobHook(previous: SimJobStatus | null, status: SimJobStatus): boolean {
  if (previous === null) return true;
  if (status === "pending") return true;
  if (status === "running") return previous === "pending";
  return FINISHED_WITH_HOOK.has(status);
}
