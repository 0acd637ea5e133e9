import { existsSync, readFileSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import { kubeGet, readBody } from "./request.js";

/** What auto-sharding reads of this pod's StatefulSet. */
export interface StatefulSetShape {
  readonly replicas: number;
  /** The headless Service that gives each replica its own name. */
  readonly serviceName: string;
}

/** A StatefulSet is a few KiB; a larger answer is not one. */
const MAX_STATEFULSET_BYTES = 1024 * 1024;
const READ_TIMEOUT_MS = 10_000;

const statefulSetSchema = z.object({
  spec: z.object({
    replicas: z.number().int().min(0).max(100_000).nullish(),
    serviceName: z.string().nullish(),
  }),
});

/**
 * Reads one StatefulSet through the same bounded door as the lists (`kubeGet`): its replicas (1
 * when unset, as the API server defaults them) and the name of its headless Service.
 */
export async function readStatefulSet(kubeConfig: KubeConfig, namespace: string, name: string): Promise<StatefulSetShape> {
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/statefulsets/${encodeURIComponent(name)}`;
  const response = await kubeGet(kubeConfig, path, {}, AbortSignal.timeout(READ_TIMEOUT_MS));
  let body: Buffer;
  try {
    body = await readBody(response.body, MAX_STATEFULSET_BYTES, "StatefulSet");
  } finally {
    response.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(`StatefulSet ${namespace}/${name} is not JSON`);
  }
  const result = statefulSetSchema.safeParse(parsed);
  if (!result.success) throw new Error(`StatefulSet ${namespace}/${name} has no readable spec.replicas`);
  return { replicas: result.data.spec.replicas ?? 1, serviceName: result.data.spec.serviceName ?? "" };
}

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** The namespace of the pod's service account, in a cluster; null elsewhere. */
export function serviceAccountNamespace(): string | null {
  if (!existsSync(SERVICE_ACCOUNT_NAMESPACE)) return null;
  const namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim();
  return namespace === "" ? null : namespace;
}
