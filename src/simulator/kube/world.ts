import type { V1Node, V1Pod } from "@kubernetes/client-node";

export type Resource = "pods" | "nodes";
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly resource: Resource;
  /** The object with kind and apiVersion, as a watch stream carries it. */
  readonly object: V1Pod | V1Node;
  readonly resourceVersion: number;
}

export type ChangeListener = (event: WatchEvent) => void;

/** How far etcd's revision moves while an API server restarts, from writes to resources not simulated here. */
const WRITES_ELSEWHERE_DURING_RESTART = 100;

/**
 * The simulated cluster's truth: pods and nodes, one resourceVersion counter shared by all objects
 * (as etcd's revision is), and a bounded history of changes from which watches are served. A
 * watch asking for a version older than the history gets 410 Expired, as from a real API server.
 */
export class KubeWorld {
  private readonly podsByKey = new Map<string, V1Pod>();
  private readonly nodesByName = new Map<string, V1Node>();
  private history: WatchEvent[] = [];
  private revision: number;
  /** Versions at or below this are no longer in the history. */
  private compactedThrough: number;
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    private readonly options: { historySize?: number; startResourceVersion?: number; now?: () => number } = {},
  ) {
    this.revision = options.startResourceVersion ?? 1000;
    this.compactedThrough = this.revision;
  }

  get now(): number {
    return (this.options.now ?? Date.now)();
  }

  addNode(node: V1Node): V1Node {
    const name = node.metadata?.name;
    if (!name || this.nodesByName.has(name)) throw new Error(`node ${name} exists or has no name`);
    return this.record("nodes", "ADDED", node, (stored) => this.nodesByName.set(name, stored));
  }

  updateNode(name: string, mutate: (node: V1Node) => void): V1Node {
    const node = this.requireNode(name);
    const copy = structuredClone(node);
    mutate(copy);
    return this.record("nodes", "MODIFIED", copy, (stored) => this.nodesByName.set(name, stored));
  }

  deleteNode(name: string): void {
    const node = this.requireNode(name);
    this.nodesByName.delete(name);
    this.record("nodes", "DELETED", structuredClone(node), () => undefined);
  }

  addPod(pod: V1Pod): V1Pod {
    const key = podKey(pod);
    if (this.podsByKey.has(key)) throw new Error(`pod ${key} exists`);
    return this.record("pods", "ADDED", pod, (stored) => this.podsByKey.set(key, stored));
  }

  updatePod(namespace: string, name: string, mutate: (pod: V1Pod) => void): V1Pod {
    const pod = this.requirePod(namespace, name);
    const copy = structuredClone(pod);
    mutate(copy);
    return this.record("pods", "MODIFIED", copy, (stored) => this.podsByKey.set(`${namespace}/${name}`, stored));
  }

  /** A DELETED event carries the object's last state (with its deletion timestamp). */
  deletePod(namespace: string, name: string): void {
    const pod = structuredClone(this.requirePod(namespace, name));
    pod.metadata!.deletionTimestamp ??= new Date(this.now);
    this.podsByKey.delete(`${namespace}/${name}`);
    this.record("pods", "DELETED", pod, () => undefined);
  }

  pods(): V1Pod[] {
    return [...this.podsByKey.values()];
  }

  nodes(): V1Node[] {
    return [...this.nodesByName.values()];
  }

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.podsByKey.get(`${namespace}/${name}`);
  }

  node(name: string): V1Node | undefined {
    return this.nodesByName.get(name);
  }

  currentResourceVersion(): number {
    return this.revision;
  }

  /** Changes after `version`, or null when they are no longer all in the history (410). */
  changesSince(version: number, resource: Resource): WatchEvent[] | null {
    if (version < this.compactedThrough) return null;
    return this.history.filter((event) => event.resource === resource && event.resourceVersion > version);
  }

  /** Forgets the whole history, as etcd compaction does; older watches get 410. */
  compactHistory(): void {
    this.history = [];
    this.compactedThrough = this.revision;
  }

  /**
   * An API server restart. The new server's watch cache starts from a list at the current
   * revision, so it holds no change from before; other resources (leases, events) were written
   * meanwhile, so the revision has moved on, and a watch resuming from a version handed out before
   * the restart gets 410 Expired. The objects keep their versions.
   */
  restart(): void {
    this.revision += WRITES_ELSEWHERE_DURING_RESTART;
    this.compactHistory();
  }

  /**
   * etcd restored from a snapshot without `--bump-revision`, and the API server restarted on it:
   * versions start again from the snapshot's revision (`toRevision`, by default the one this world
   * started at), below those handed out before, so a client's last version is ahead of every one
   * the API server holds. The objects keep their content, renumbered up to that revision; the
   * history is gone.
   */
  restoreEtcd(options: { toRevision?: number } = {}): void {
    const target = options.toRevision ?? this.options.startResourceVersion ?? 1000;
    const objects: Array<V1Pod | V1Node> = [...this.nodesByName.values(), ...this.podsByKey.values()];
    if (target >= this.revision || target < objects.length) {
      throw new Error(`cannot restore to revision ${target}: it must be below the current ${this.revision} and leave room for ${objects.length} objects`);
    }
    this.revision = target - objects.length;
    for (const object of objects) object.metadata!.resourceVersion = String(++this.revision);
    this.compactHistory();
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record<T extends V1Pod | V1Node>(resource: Resource, type: WatchEventType, object: T, store: (stored: T) => void): T {
    const stored = structuredClone(object);
    stored.metadata ??= {};
    stored.metadata.resourceVersion = String(++this.revision);
    if (type === "ADDED") {
      stored.metadata.uid ??= `${resource}-${this.revision}`;
      stored.metadata.creationTimestamp ??= new Date(this.now);
    }
    store(stored);
    const event: WatchEvent = { type, resource, object: withKind(resource, stored), resourceVersion: this.revision };
    this.history.push(event);
    const limit = this.options.historySize ?? 10_000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.compactedThrough = dropped.at(-1)!.resourceVersion;
    }
    for (const listener of this.listeners) listener(event);
    return stored;
  }

  private requireNode(name: string): V1Node {
    const node = this.nodesByName.get(name);
    if (!node) throw new Error(`node ${name} not found`);
    return node;
  }

  private requirePod(namespace: string, name: string): V1Pod {
    const pod = this.podsByKey.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`pod ${namespace}/${name} not found`);
    return pod;
  }
}

export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
}

export function withKind<T extends V1Pod | V1Node>(resource: Resource, object: T): T {
  return { kind: resource === "pods" ? "Pod" : "Node", apiVersion: "v1", ...object };
}
