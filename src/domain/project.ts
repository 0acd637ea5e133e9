/** A GitLab project the exporter watches. */
export interface WatchedProject {
  readonly id: number;
  /** `path_with_namespace`: the `project` label of every family. */
  readonly path: string;
}
