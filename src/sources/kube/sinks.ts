import type { NodeSnapshot, PodSnapshot } from "../../domain/pod.js";

/**
 * Where the Kubernetes source hands what it reads. The node and pod state satisfy these as they
 * are; the source knows nothing else of them. Applying the same snapshot twice must change
 * nothing: after a reconnect the source lists again and hands over the whole truth.
 */

/** Nodes, cluster-wide. */
export interface NodeSink {
  /** A full list: nodes missing from it went away while the watch was down. */
  replaceAll(items: readonly NodeSnapshot[], nowMs: number): void;
  upsert(item: NodeSnapshot, nowMs: number): void;
  /** A node was deleted; `item` is its last state (the watch's DELETED object). */
  remove(item: NodeSnapshot, nowMs: number): void;
}

export interface PodApplyOptions {
  readonly nowMs: number;
  /**
   * Whether builds that already ended count. False for the first list after start-up: those ran
   * before we watched, and a restarted exporter must not observe them again.
   */
  readonly observeEndedBuilds: boolean;
}

/** Pods, of one namespace per informer or of all. */
export interface PodSink {
  /** A full list of one namespace (or of all, `namespace` null): pods missing from it were deleted meanwhile. */
  replace(namespace: string | null, items: readonly PodSnapshot[], options: PodApplyOptions): void;
  upsert(item: PodSnapshot, options: PodApplyOptions): void;
  /** A pod was deleted; `item` is its last state (the watch's DELETED object). */
  remove(item: PodSnapshot, nowMs: number): void;
}
