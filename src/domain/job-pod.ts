/**
 * Recognising the pods gitlab-runner's Kubernetes executor creates for CI jobs, from their labels
 * and annotations. The keys are configurable because older runners (before 15.9 there were no
 * job annotations) and teams using `pod_labels` / `pod_annotations` carry the facts elsewhere.
 */

/** Ordered label-or-annotation keys for each fact; the first key present wins. */
export interface JobPodKeys {
  readonly jobId: readonly string[];
  readonly jobUrl: readonly string[];
  readonly ref: readonly string[];
  readonly jobName: readonly string[];
  readonly projectPath: readonly string[];
  /** The numeric project id: the project's path is then looked up, when nothing else tells it. */
  readonly projectId: readonly string[];
  readonly pipelineId: readonly string[];
  readonly runnerName: readonly string[];
}

/**
 * The keys gitlab-runner sets itself: the job annotations since 15.9, the `project.runner.gitlab.com`
 * and `manager.runner.gitlab.com` labels since 17.9 (their values sanitised, so the project's path
 * cannot be read back from `project.runner.gitlab.com/namespace` and `/name`; its id can be).
 */
export const RUNNER_JOB_POD_KEYS: JobPodKeys = {
  jobId: ["job.runner.gitlab.com/id"],
  jobUrl: ["job.runner.gitlab.com/url"],
  ref: ["job.runner.gitlab.com/ref"],
  jobName: ["job.runner.gitlab.com/name"],
  projectPath: [],
  projectId: ["project.runner.gitlab.com/id"],
  pipelineId: [],
  runnerName: ["manager.runner.gitlab.com/name"],
};

export interface PodMeta {
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface JobPodOptions {
  readonly keys: JobPodKeys;
  /** Path of GITLAB_URL (`/gitlab` for `https://host/gitlab`), "" when GitLab is served at the root. */
  readonly gitlabBasePath: string;
  /** Longer refs are cut to this many characters. */
  readonly refMaxLength: number;
}

/** What a CI job pod tells about its job; every field is a label value ("" when unknown). */
export interface JobPodIdentity {
  readonly jobId: string;
  /** `path_with_namespace`, as the GitLab side's `project` label spells it. */
  readonly project: string;
  readonly ref: string;
  readonly jobName: string;
  readonly pipelineId: string;
  readonly runner: string;
}

/** The path of a project by its id, as far as it is known; undefined otherwise. */
export type ProjectPathLookup = (projectId: number) => string | undefined;

/** The id of a project by its path, as far as it is known; undefined otherwise. */
export type ProjectIdLookup = (path: string) => number | undefined;

/**
 * The id of a CI job pod's project: its project id key, else the id of the project it names by
 * path (job URL or path key) through `projectIdOf`; null when neither tells.
 */
export function jobPodProjectId(meta: PodMeta, keys: JobPodKeys, project: string, projectIdOf?: ProjectIdLookup): number | null {
  const id = lookup(meta, keys.projectId).trim();
  if (/^\d{1,15}$/.test(id)) return Number(id);
  return project === "" ? null : (projectIdOf?.(project) ?? null);
}

/**
 * The job a pod runs, or null when the pod is not a CI job pod. A pod is one when a job id key
 * holds a number, or when its job URL ends in `/-/jobs/<id>`. The project comes from the job URL,
 * else a project path key, else the project id key through `projectPathOf`.
 */
export function recogniseJobPod(meta: PodMeta, options: JobPodOptions, projectPathOf?: ProjectPathLookup): JobPodIdentity | null {
  const { keys } = options;
  const url = lookup(meta, keys.jobUrl);
  const idFromKey = lookup(meta, keys.jobId).trim();
  const jobId = /^\d+$/.test(idFromKey) ? idFromKey : url === "" ? "" : (jobIdFromUrl(url) ?? "");
  if (jobId === "") return null;
  const project = (url === "" ? null : projectPathFromJobUrl(url, options.gitlabBasePath)) || trimSlashes(lookup(meta, keys.projectPath)) || projectFromId(meta, keys.projectId, projectPathOf);
  return {
    jobId,
    project,
    ref: truncate(lookup(meta, keys.ref), options.refMaxLength),
    jobName: lookup(meta, keys.jobName),
    pipelineId: lookup(meta, keys.pipelineId),
    runner: lookup(meta, keys.runnerName),
  };
}

/**
 * The project's `path_with_namespace` from a job URL (`https://host/<path>/-/jobs/<id>`), without
 * GitLab's relative URL root (`https://host/gitlab/<path>/-/jobs/<id>` with base path `/gitlab`).
 * Null when the URL has no `/-/jobs/` part.
 */
export function projectPathFromJobUrl(jobUrl: string, gitlabBasePath = ""): string | null {
  let pathname: string;
  try {
    pathname = new URL(jobUrl).pathname;
  } catch {
    pathname = jobUrl;
  }
  const marker = pathname.indexOf("/-/jobs/");
  if (marker < 0) return null;
  let path = pathname.slice(0, marker);
  const base = trimSlashes(gitlabBasePath);
  if (base !== "" && (path === `/${base}` || path.startsWith(`/${base}/`))) path = path.slice(base.length + 1);
  path = trimSlashes(path);
  if (path === "") return null;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export function jobIdFromUrl(jobUrl: string): string | null {
  return /\/-\/jobs\/(\d+)(?:[/?#]|$)/.exec(jobUrl)?.[1] ?? null;
}

/** The first key present as an annotation or a label (annotations first: they are not sanitised). */
export function lookup(meta: PodMeta, keys: readonly string[]): string {
  for (const key of keys) {
    const value = meta.annotations?.[key] ?? meta.labels?.[key];
    if (value !== undefined && value !== "") return value;
  }
  return "";
}

function projectFromId(meta: PodMeta, keys: readonly string[], projectPathOf: ProjectPathLookup | undefined): string {
  const id = lookup(meta, keys).trim();
  if (projectPathOf === undefined || !/^\d+$/.test(id)) return "";
  return projectPathOf(Number(id)) ?? "";
}

export function truncate(value: string, maxLength: number): string {
  if (value.length <= maxLength) return value;
  // Do not leave half of a surrogate pair behind.
  const cut = value.slice(0, maxLength);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

function trimSlashes(value: string): string {
  return value.replace(/^\/+|\/+$/g, "");
}
