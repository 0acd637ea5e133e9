import type { BuildFinished } from "../../domain/events.js";
import type { Listeners } from "../../lib/listeners.js";
import { histogram, type FamilyGenerator } from "../exposition/generator.js";

/** Seconds; from a cached layer push to a cold monorepo image. */
export const IMAGE_BUILD_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600];

/**
 * Where builds are told to end: the pod state (a builder container that ended on its own) and
 * the job links (a CI job whose build container runs a builder, timed by the job's end).
 */
export interface ImageBuildState {
  readonly builds: ReadonlyArray<{ readonly onBuildFinished: Listeners<BuildFinished> }>;
}

export const IMAGE_BUILD_FAMILIES: readonly FamilyGenerator<ImageBuildState>[] = [
  histogram({
    name: "gitlab_ci_image_build_duration_seconds",
    help: "Run time of each image build (Kaniko, BuildKit, Buildah), observed once: a CI job whose build container runs a builder image, timed by the job as GitLab reports it (project set), or a builder container of a Kubernetes Job's pod (project empty).",
    labels: ["builder", "project", "result"],
    buckets: IMAGE_BUILD_DURATION_BUCKETS,
    connect: ({ builds }, family) => {
      for (const source of builds) {
        source.onBuildFinished.add((build) => family.observe({ builder: build.builder, project: build.project, result: build.result }, build.durationSeconds));
      }
    },
  }),
];
