/**
 * Image builders recognised by their container image: Kaniko (and its maintained forks),
 * BuildKit and Buildah.
 */
export interface BuilderImage {
  /** The `builder` label value. */
  readonly builder: string;
  /** An image reference prefix: a repository (`moby/buildkit`) or, ending in `/`, a namespace. */
  readonly prefix: string;
}

export const DEFAULT_BUILDER_IMAGES: readonly BuilderImage[] = [
  { builder: "kaniko", prefix: "gcr.io/kaniko-project/executor" },
  { builder: "kaniko", prefix: "ghcr.io/osscontainertools/kaniko" },
  { builder: "kaniko", prefix: "martizih/kaniko" },
  { builder: "kaniko", prefix: "cgr.dev/chainguard/kaniko" },
  { builder: "buildkit", prefix: "moby/buildkit" },
  { builder: "buildah", prefix: "quay.io/buildah/" },
];

/** gitlab-runner's Kubernetes executor runs the job's image in the container named `build`. */
export const RUNNER_BUILD_CONTAINER = "build";

/**
 * The builder an image belongs to, or null. Docker Hub spellings are equivalent
 * (`moby/buildkit`, `docker.io/moby/buildkit`, `index.docker.io/moby/buildkit`), and a prefix
 * matches whole path segments only: `moby/buildkit` matches `moby/buildkit:v0.23.0-rootless`
 * and `moby/buildkit@sha256:...`, not `moby/buildkit-proxy`.
 */
export function detectBuilder(image: string, builders: readonly BuilderImage[]): string | null {
  const reference = normaliseImage(image);
  for (const { builder, prefix } of builders) {
    const wanted = normaliseImage(prefix);
    if (!reference.startsWith(wanted)) continue;
    if (wanted.endsWith("/")) return builder;
    const next = reference.charAt(wanted.length);
    if (next === "" || next === ":" || next === "@" || next === "/") return builder;
  }
  return null;
}

export function normaliseImage(image: string): string {
  const trimmed = image.trim().toLowerCase();
  const withoutHub = trimmed.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "");
  return withoutHub.startsWith("library/") ? withoutHub.slice("library/".length) : withoutHub;
}

/**
 * The build result a finished CI job tells of, when its `build` container ran a builder, or null
 * when the job says nothing about the build: a canceled job was stopped by a person, and a job
 * failed for any reason but its script or its time limit was ended by the runner, the cluster
 * or GitLab itself (`runner_system_failure`, `stuck_or_timeout_failure`, ...) before the build
 * could finish.
 */
export function buildResultOfJob(status: "success" | "failed" | "canceled", failureReason: string): "success" | "failure" | null {
  if (status === "success") return "success";
  if (status === "failed" && BUILD_FAILURE_REASONS.has(failureReason)) return "failure";
  return null;
}

/** Failure reasons that end a job's script: the build inside it failed, or ran out of time. */
const BUILD_FAILURE_REASONS: ReadonlySet<string> = new Set(["script_failure", "job_execution_timeout"]);
