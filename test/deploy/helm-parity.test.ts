/**
 * The Helm chart and the kustomize tree install the same exporter: same kinds, same RBAC rules,
 * same settings, same pod. Names and labels may differ (Helm adds its own); what the exporter
 * gets and may do may not.
 */
import path from "node:path";
import type { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { Deployment } from "kubernetes-models/apps/v1/Deployment";
import type { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import type { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { helmTemplate, type K8sObject, kustomize, podEnv, workloadOf } from "./manifests.js";

const MONITORING_KINDS = ["PrometheusRule", "ServiceMonitor"];
const PROMETHEUS_OPERATOR = { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } };

const helmDefaults = helmTemplate();
const helmWithMonitoring = helmTemplate(PROMETHEUS_OPERATOR);
const helmSharded = helmTemplate({ ...PROMETHEUS_OPERATOR, shards: 3, replicasPerShard: 2 });
const helmNamespaced = helmTemplate({
  ...PROMETHEUS_OPERATOR,
  rbac: { namespaced: true },
  settings: { GITLAB_URL: "https://gitlab.example.com", GITLAB_GROUPS: "my-group", LOG_LEVEL: "info", KUBE_NAMESPACES: "gitlab-runner" },
});

const kinds = (objects: K8sObject[]) => objects.map((o) => o.kind).sort();

function one<T>(objects: K8sObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
}

/** Each RBAC object's kind, namespace and rules; names differ between the two (and so do the StatefulSet's, named in a rule). */
function permissions(objects: K8sObject[]) {
  const workload = workloadOf(objects).metadata!.name;
  const unnamed = (rules: unknown) => JSON.parse(JSON.stringify(rules ?? []).replaceAll(`"${workload}"`, '"<workload>"')) as unknown;
  return objects
    .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
    .map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, rules: unnamed(o.rules) }))
    .sort((a, b) => `${a.kind}/${a.namespace}`.localeCompare(`${b.kind}/${b.namespace}`));
}

/** The pod as the exporter sees it: env by name, each mounted file by Secret and key, the pod's settings. */
function exporterPod(objects: K8sObject[]) {
  const deployment = workloadOf(objects);
  const pod = deployment.spec!.template.spec!;
  const { env: _, volumeMounts, ...container } = pod.containers[0]!;
  // The pod's own name differs as the workloads' names do.
  const env = Object.fromEntries(Object.entries(podEnv(deployment)).map(([name, value]) => [name, name === "POD_NAME" ? "<workload>-0" : value]));
  const mount = volumeMounts!.find((m) => m.name === "secrets")!;
  const volume = pod.volumes!.find((v) => v.name === "secrets")!;
  const sources = volume.secret ? [{ name: volume.secret.secretName!, items: volume.secret.items }] : volume.projected!.sources!.map((s) => s.secret!);
  const files: Record<string, string> = {};
  for (const { name, items } of sources) {
    // Without items, a Secret volume holds every key of the Secret as a file of that name.
    const entries = items ?? Object.values(env).filter((v) => v.startsWith(`${mount.mountPath}/`)).map((v) => ({ key: path.basename(v), path: path.basename(v) }));
    for (const item of entries) files[`${mount.mountPath}/${item.path}`] = `${name}/${item.key}`;
  }
  const statefulSet = deployment.kind === "StatefulSet" ? (deployment as StatefulSet).spec! : null;
  return {
    kind: deployment.kind,
    replicas: deployment.spec!.replicas,
    strategy: statefulSet ? { updateStrategy: statefulSet.updateStrategy, podManagementPolicy: statefulSet.podManagementPolicy } : (deployment as Deployment).spec!.strategy,
    spreadOver: pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.map((term) => term.podAffinityTerm.topologyKey),
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
    securityContext: pod.securityContext,
    serviceAccountToken: pod.automountServiceAccountToken,
    container,
    env,
    secretFiles: { files, readOnly: mount.readOnly, mode: (volume.secret ?? volume.projected)!.defaultMode },
  };
}

describe("the Helm chart against the kustomize base", () => {
  it("renders the same kinds, the Prometheus Operator's once they are enabled", async () => {
    const base = await kustomize("deploy/kubernetes");
    expect(kinds(await helmWithMonitoring)).toEqual(kinds(base));
    expect(kinds(await helmDefaults)).toEqual(kinds(base).filter((kind) => !MONITORING_KINDS.includes(kind)));
  });

  it("grants the same rules cluster-wide, and the same per namespace as the namespaced overlay", async () => {
    expect(permissions(await helmDefaults)).toEqual(permissions(await kustomize("deploy/kubernetes")));
    expect(permissions(await helmNamespaced)).toEqual(permissions(await kustomize("deploy/kubernetes/overlays/namespaced")));
  });

  it("runs the same pod: settings, image, probes, resources, security and rollout, and reads the same Secret keys", async () => {
    for (const [helm, dir] of [
      [helmDefaults, "deploy/kubernetes"],
      [helmNamespaced, "deploy/kubernetes/overlays/namespaced"],
    ] as const) {
      const chart = exporterPod(await helm);
      const base = exporterPod(await kustomize(dir));
      expect(chart, dir).toEqual(base);
      expect(Object.keys(chart.secretFiles.files)).toHaveLength(2);
    }
  });

  it("installs the same shards as the sharded overlay: StatefulSet, peers' Service, disruption budget, Lease rights", async () => {
    const [chart, base] = [await helmSharded, await kustomize("deploy/kubernetes/overlays/sharded")];
    expect(kinds(chart)).toEqual(kinds(base));
    expect(permissions(chart)).toEqual(permissions(base));
    expect(exporterPod(chart)).toEqual(exporterPod(base));
    const peers = (objects: K8sObject[]) => objects.find((o) => o.kind === "Service" && o.metadata.name === (workloadOf(objects) as StatefulSet).spec!.serviceName) as Service | undefined;
    expect(peers(chart)?.spec).toEqual(expect.objectContaining({ clusterIP: "None", publishNotReadyAddresses: true, ports: peers(base)!.spec!.ports }));
    expect(one<PodDisruptionBudget>(chart, "PodDisruptionBudget").spec!.maxUnavailable).toBe(one<PodDisruptionBudget>(base, "PodDisruptionBudget").spec!.maxUnavailable);
  });

  it("exposes the same port, scrapes it the same way and carries the same rules", async () => {
    const chart = await helmWithMonitoring;
    const base = await kustomize("deploy/kubernetes");
    expect(one<Service>(chart, "Service").spec!.ports).toEqual(one<Service>(base, "Service").spec!.ports);
    void helmSharded;
    expect(one<ServiceMonitor>(chart, "ServiceMonitor").spec.endpoints).toEqual(one<ServiceMonitor>(base, "ServiceMonitor").spec.endpoints);
    expect(one<PrometheusRule>(chart, "PrometheusRule").spec).toEqual(one<PrometheusRule>(base, "PrometheusRule").spec);
  });
});
