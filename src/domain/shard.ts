/**
 * How the work splits over shards, in the manner of kube-state-metrics' `--shard` and
 * `--total-shards`: every object has a key, the key's FNV-1a hash modulo the number of shards
 * names its shard, and every replica computes the same answer without asking anyone. The keys are
 * chosen so that the two sides of a job meet on one shard: a GitLab project by its id, a CI job
 * pod by its project's id, any other pod by its UID, a node by its name, and the CI time of the
 * nodes of one instance type and capacity type by those two.
 */

/** Which shard this replica is, of how many. */
export interface Sharding {
  readonly shard: number;
  readonly total: number;
}

export const UNSHARDED: Sharding = Object.freeze({ shard: 0, total: 1 });

/** FNV-1a, 32 bits, over the key's UTF-16 code units (keys are ids, UIDs and node names: ASCII). */
export function fnv32a(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard of a key, of `total`. */
export function shardOfKey(key: string, total: number): number {
  return total <= 1 ? 0 : fnv32a(key) % total;
}

/** The shard of a GitLab project: its jobs, its webhook deliveries and its job pods. */
export function shardOfProject(projectId: number, total: number): number {
  return shardOfKey(String(projectId), total);
}

/** The shard of a pod: its project's when it names one, else its own UID's. */
export function shardOfPod(pod: { readonly uid: string; readonly projectId?: number | null }, total: number): number {
  return pod.projectId === null || pod.projectId === undefined ? shardOfKey(pod.uid, total) : shardOfProject(pod.projectId, total);
}

/** The shard exporting a node's series: every shard watches every node, one exports it. */
export function shardOfNode(nodeName: string, total: number): number {
  return shardOfKey(nodeName, total);
}

/**
 * The shard counting the time of the nodes of one instance type and capacity type: the node cost
 * families are by node group, capacity type and instance type, and the nodes without a price by
 * instance type and capacity type, so each of their series comes from one shard.
 */
export function shardOfNodeType(instanceType: string, capacityType: string, total: number): number {
  return shardOfKey(`${instanceType}\u0000${capacityType}`, total);
}

export function ownsProject(sharding: Sharding, projectId: number): boolean {
  return shardOfProject(projectId, sharding.total) === sharding.shard;
}

export function ownsPod(sharding: Sharding, pod: { readonly uid: string; readonly projectId?: number | null }): boolean {
  return shardOfPod(pod, sharding.total) === sharding.shard;
}

export function ownsNode(sharding: Sharding, nodeName: string): boolean {
  return shardOfNode(nodeName, sharding.total) === sharding.shard;
}

export function ownsNodeType(sharding: Sharding, instanceType: string, capacityType: string): boolean {
  return shardOfNodeType(instanceType, capacityType, sharding.total) === sharding.shard;
}

/**
 * A StatefulSet's replicas split into shards of `replicasPerShard` consecutive ordinals: pods 0
 * and 1 are shard 0, pods 2 and 3 shard 1, and so on. Scaling the StatefulSet up adds whole shards
 * at the end and leaves every existing pod in its shard; scaling down removes the last ones.
 */
export function shardOfOrdinal(ordinal: number, replicasPerShard: number): number {
  return Math.floor(ordinal / replicasPerShard);
}

/** The ordinals of the replicas of one shard, lowest first. */
export function ordinalsOfShard(shard: number, replicasPerShard: number): number[] {
  return Array.from({ length: replicasPerShard }, (_, i) => shard * replicasPerShard + i);
}

/** `gitlab-ci-k8s-exporter-4` → its StatefulSet `gitlab-ci-k8s-exporter` and ordinal 4; null for any other name. */
export function statefulSetPod(podName: string): { readonly statefulSet: string; readonly ordinal: number } | null {
  const match = /^(.+)-(\d{1,9})$/.exec(podName);
  return match ? { statefulSet: match[1]!, ordinal: Number(match[2]) } : null;
}
