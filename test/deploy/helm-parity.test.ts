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
import { helmTemplate, type K8sObject, kustomize } from "./manifests.js";

const MONITORING_KINDS = ["PrometheusRule", "ServiceMonitor"];
const PROMETHEUS_OPERATOR = { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } };

const helmDefaults = helmTemplate();
const helmWithMonitoring = helmTemplate(PROMETHEUS_OPERATOR);
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

/** Each RBAC object's kind, namespace and rules; names differ between the two. */
function permissions(objects: K8sObject[]) {
  return objects
    .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
    .map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, rules: o.rules }))
    .sort((a, b) => `${a.kind}/${a.namespace}`.localeCompare(`${b.kind}/${b.namespace}`));
}

/** The pod as the exporter sees it: env by name, each mounted file by Secret and key, the pod's settings. */
function exporterPod(objects: K8sObject[]) {
  const deployment = one<Deployment>(objects, "Deployment");
  const pod = deployment.spec!.template.spec!;
  const { env: envVars, volumeMounts, ...container } = pod.containers[0]!;
  const env = Object.fromEntries((envVars ?? []).map((e) => [e.name, e.value ?? ""]));
  const mount = volumeMounts!.find((m) => m.name === "secrets")!;
  const volume = pod.volumes!.find((v) => v.name === "secrets")!;
  const sources = volume.secret ? [{ name: volume.secret.secretName!, items: volume.secret.items }] : volume.projected!.sources!.map((s) => s.secret!);
  const files: Record<string, string> = {};
  for (const { name, items } of sources) {
    // Without items, a Secret volume holds every key of the Secret as a file of that name.
    const entries = items ?? Object.values(env).filter((v) => v.startsWith(`${mount.mountPath}/`)).map((v) => ({ key: path.basename(v), path: path.basename(v) }));
    for (const item of entries) files[`${mount.mountPath}/${item.path}`] = `${name}/${item.key}`;
  }
  return {
    replicas: deployment.spec!.replicas,
    strategy: deployment.spec!.strategy,
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

  it("exposes the same port, scrapes it the same way and carries the same rules", async () => {
    const chart = await helmWithMonitoring;
    const base = await kustomize("deploy/kubernetes");
    expect(one<Service>(chart, "Service").spec!.ports).toEqual(one<Service>(base, "Service").spec!.ports);
    expect(one<ServiceMonitor>(chart, "ServiceMonitor").spec.endpoints).toEqual(one<ServiceMonitor>(base, "ServiceMonitor").spec.endpoints);
    expect(one<PrometheusRule>(chart, "PrometheusRule").spec).toEqual(one<PrometheusRule>(base, "PrometheusRule").spec);
  });
});
