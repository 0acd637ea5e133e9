/**
 * Renders the deploy manifests with the real tools (kubectl's kustomize, helm template) from
 * test/helpers/k8s-tools.ts, and validates objects against their published schemas.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { parseAllDocuments } from "yaml";
import { ROOT } from "../../mixin/render.js";
import { k8sTools } from "../helpers/k8s-tools.js";

const run = promisify(execFile);

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: unknown };

/** The schema of every kind the manifests and the chart may render. */
export const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  PodDisruptionBudget,
  Service,
  ServiceAccount,
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
  ServiceMonitor,
  PrometheusRule,
  Secret,
  ConfigMap,
  Ingress,
  NetworkPolicy,
};

function documents(stdout: string): K8sObject[] {
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const kustomized = new Map<string, Promise<K8sObject[]>>();

/** `kubectl kustomize <dir>`, rendered once per directory: the tests only read the objects. */
export function kustomize(dir: string): Promise<K8sObject[]> {
  let objects = kustomized.get(dir);
  if (!objects) {
    objects = k8sTools().then(async ({ kubectl }) => {
      const { stdout } = await run(kubectl, ["kustomize", path.join(ROOT, dir)], { maxBuffer: 16 * 1024 * 1024 });
      return documents(stdout);
    });
    kustomized.set(dir, objects);
  }
  return objects;
}

export const CHART_DIR = path.join(ROOT, "deploy/helm/gitlab-ci-k8s-exporter");

/** Runs helm with the given arguments; a non-zero exit rejects with helm's stderr in the message. */
export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const { helm: binary } = await k8sTools();
  // HELM_* directories point into a scratch path so helm neither reads nor writes the user's.
  const scratch = path.join(ROOT, "node_modules", ".cache", "k8s-tools", "helm-home");
  const env = { PATH: process.env.PATH ?? "", HOME: scratch, HELM_CACHE_HOME: scratch, HELM_CONFIG_HOME: scratch, HELM_DATA_HOME: scratch };
  try {
    return await run(binary, args, { env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`helm ${args.join(" ")} failed:\n${stderr ?? ""}${stdout ?? ""}`);
  }
}

/**
 * `helm template` of the chart with the given values, passed as a file as a user's values.yaml
 * is (so numbers arrive as Helm's float64, as they would from a real values file).
 */
export async function helmTemplate(values: Record<string, unknown> = {}, options: { release?: string; namespace?: string } = {}): Promise<K8sObject[]> {
  const dir = await mkdtemp(path.join(tmpdir(), "helm-values-"));
  try {
    const file = path.join(dir, "values.json");
    await writeFile(file, JSON.stringify(values));
    const args = ["template", options.release ?? "gitlab-ci-k8s-exporter", CHART_DIR, "--namespace", options.namespace ?? "monitoring", "-f", file];
    return documents((await helm(args)).stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Validates each object against its kubernetes-models schema; unknown kinds fail. */
export function validationErrors(objects: K8sObject[]): string[] {
  const errors: string[] = [];
  for (const object of objects) {
    const Model = MODELS[object.kind];
    if (!Model) {
      errors.push(`no schema for ${object.kind}`);
      continue;
    }
    try {
      new Model(object as never).validate();
    } catch (error) {
      errors.push(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** The exporter's workload: the Deployment, or the StatefulSet of the sharded variants. */
export type Workload = Deployment | StatefulSet;

/** The one Deployment or StatefulSet among the objects; fails unless there is exactly one. */
export function workloadOf(objects: K8sObject[]): Workload {
  const found = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
  if (found.length !== 1) throw new Error(`expected one Deployment or StatefulSet, found ${found.map((o) => `${o.kind} ${o.metadata.name}`).join(", ") || "none"}`);
  return found[0] as unknown as Workload;
}

/**
 * The container's environment as the exporter sees it in pod `<workload>-0`: plain values, and
 * the downward API's name and namespace filled in.
 */
export function podEnv(workload: Workload): Record<string, string> {
  const container = workload.spec!.template.spec!.containers[0]!;
  const field = (path: string | undefined) => (path === "metadata.name" ? `${workload.metadata!.name}-0` : path === "metadata.namespace" ? (workload.metadata!.namespace ?? "") : "");
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? field(e.valueFrom?.fieldRef?.fieldPath)]));
}
