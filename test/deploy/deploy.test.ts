import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { Deployment } from "kubernetes-models/apps/v1/Deployment";
import type { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { Service } from "kubernetes-models/v1/Service";
import { Secret } from "kubernetes-models/v1/Secret";
import type { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../mixin/render.js";
import { loadConfig } from "../../src/config/load.js";
import { SETTINGS } from "../../src/config/settings.js";
import { DRAIN_LIMIT_SECONDS } from "../../src/shutdown.js";
import { type K8sObject, kustomize, MODELS, podEnv, workloadOf } from "./manifests.js";

/** What `kubectl apply -k` takes: the top level (the base) and every directory under overlays/. */
const OVERLAYS = readdirSync(path.join(ROOT, "deploy/kubernetes/overlays"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `deploy/kubernetes/overlays/${entry.name}`)
  .sort();
const TREES = ["deploy/kubernetes", ...OVERLAYS];

const COMMON_LABELS = { "app.kubernetes.io/name": "gitlab-ci-k8s-exporter", "app.kubernetes.io/part-of": "gitlab-ci-k8s-exporter" };
const RBAC_GROUP = "rbac.authorization.k8s.io";

type SecretExample = K8sObject & { stringData?: Record<string, string>; data?: Record<string, string> };

async function secretExample(): Promise<SecretExample> {
  return parse(await readFile(path.join(ROOT, "deploy/kubernetes/base/secret.example.yaml"), "utf8")) as SecretExample;
}

/** A Kubernetes memory quantity ("256Mi", "1G", "268435456") in MiB. */
function mebibytes(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`);
  const factor = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ""] ?? 1;
  return (Number(match[1]) * factor) / 2 ** 20;
}

/** A Kubernetes CPU quantity ("250m", "0.5", "2") in cores. */
function cores(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity));
  if (!match) throw new Error(`unsupported CPU quantity ${quantity}`);
  return Number(match[1]) / (match[2] ? 1000 : 1);
}

/** The exporter's CPU use in the last full benchmark run's steady window. */
const BENCH_CPU_STEADY = (JSON.parse(readFileSync(path.join(ROOT, "bench/results/default.json"), "utf8")) as { cpu_steady_cores?: unknown }).cpu_steady_cores;

function one<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0] as T;
}

const POD_AND_NODE_READER = [{ apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }];

describe("the kustomize tree", () => {
  it("has overlays, found by listing overlays/", () => {
    expect(OVERLAYS).toContain("deploy/kubernetes/overlays/namespaced");
  });

  it("renders the base at deploy/kubernetes", async () => {
    expect(await kustomize("deploy/kubernetes")).toEqual(await kustomize("deploy/kubernetes/base"));
  });
});

describe.each(TREES)("kubectl kustomize %s", (dir) => {
  it("renders objects that each validate against their Kubernetes schema", async () => {
    const objects = await kustomize(dir);
    expect(objects.length).toBeGreaterThanOrEqual(7);
    for (const object of objects) {
      const Model = MODELS[object.kind];
      expect(Model, `no schema for ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
      expect(object.metadata.labels, `labels of ${object.kind} ${object.metadata.name}`).toMatchObject(COMMON_LABELS);
    }
  });

  it("runs a hardened exporter whose env and files the config schema accepts", async () => {
    const objects = await kustomize(dir);
    const deployment = workloadOf(objects);
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.resources?.requests).toHaveProperty("memory");
    expect(container.resources?.limits).toHaveProperty("memory");
    expect(container.livenessProbe?.httpGet).toMatchObject({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe?.httpGet).toMatchObject({ path: "/readyz", port: "metrics" });

    const env = podEnv(deployment);
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    // Secrets come from files on a mounted volume, never from plain env values.
    expect(env).not.toHaveProperty("GITLAB_TOKEN");
    expect(env).not.toHaveProperty("GITLAB_WEBHOOK_SECRET");
    // Each *_FILE names a key of the Secret, on a read-only mount of it, that the Secret example defines.
    const example = await secretExample();
    const exampleKeys = new Set(Object.keys({ ...example.data, ...example.stringData }));
    expect(example.metadata.namespace).toBe(deployment.metadata!.namespace);
    const mounts = container.volumeMounts ?? [];
    const files = Object.entries(env).filter(([n]) => n.endsWith("_FILE"));
    expect(files.map(([n]) => n).sort()).toEqual(["GITLAB_TOKEN_FILE", "GITLAB_WEBHOOK_SECRET_FILE"]);
    for (const [name, value] of files) {
      const mount = mounts.find((m) => value.startsWith(`${m.mountPath}/`));
      expect(mount, `${name} is not on a mounted volume`).toBeDefined();
      expect(mount!.readOnly).toBe(true);
      expect(mount!.subPath, `${name}: a subPath mount misses Secret rotations`).toBeUndefined();
      const secret = pod.volumes?.find((v) => v.name === mount!.name)?.secret;
      expect(secret?.secretName, `${name} is not on a Secret volume`).toBe(example.metadata.name);
      const file = value.slice(mount!.mountPath.length + 1);
      const key = secret!.items ? secret!.items.find((item) => item.path === file)?.key : file;
      expect(key, `${name}=${value} is no key of Secret ${secret!.secretName}`).toBeDefined();
      expect(exampleKeys.has(key!), `${name}: key ${key} is not in secret.example.yaml (${[...exampleKeys].join(", ")})`).toBe(true);
    }
    // The config schema takes the manifest's settings once the secret files exist.
    const secretDir = await mkdtemp(path.join(tmpdir(), "deploy-secrets-"));
    try {
      const local: Record<string, string> = {};
      for (const [name, value] of Object.entries(env)) {
        if (!name.endsWith("_FILE")) {
          local[name] = value;
          continue;
        }
        const file = path.join(secretDir, path.basename(value));
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, "placeholder-value-0123456789\n");
        local[name] = file;
      }
      const config = loadConfig(local);
      expect(config).toBeDefined();
    } finally {
      await rm(secretDir, { recursive: true, force: true });
    }
  });

  it("exposes the named metrics port to a ServiceMonitor that selects the Service", async () => {
    const objects = await kustomize(dir);
    const deployment = workloadOf(objects);
    const service = one<Service>(objects, "Service", "gitlab-ci-k8s-exporter");
    const monitor = one<ServiceMonitor>(objects, "ServiceMonitor");
    const port = deployment.spec!.template.spec!.containers[0]!.ports!.find((p) => p.name === "metrics")!;
    expect(port.containerPort).toBe(9863);
    const servicePort = service.spec!.ports!.find((p) => p.name === "metrics")!;
    expect(servicePort.targetPort).toBe("metrics");
    expect(monitor.spec.endpoints.map((e) => e.port)).toEqual(["metrics"]);
    // The job pod families carry namespace, pod and container: without honorLabels Prometheus
    // renames them exported_*, and the mixin's joins on (namespace, pod) with cAdvisor find nothing.
    for (const endpoint of monitor.spec.endpoints) expect(endpoint.honorLabels).toBe(true);
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels ?? {})) expect(service.metadata!.labels?.[key]).toBe(value);
    for (const [key, value] of Object.entries(service.spec!.selector ?? {})) expect(deployment.spec!.template.metadata!.labels?.[key]).toBe(value);
  });

  it("carries exactly the generated rules/ in its PrometheusRule", async () => {
    const objects = await kustomize(dir);
    const rule = one<PrometheusRule>(objects, "PrometheusRule");
    const files = (await readdir(path.join(ROOT, "rules"))).filter((f) => f.endsWith(".yaml")).sort();
    expect(files.length).toBeGreaterThan(0);
    const groups: Array<{ name: string }> = [];
    for (const file of files) groups.push(...(parse(await readFile(path.join(ROOT, "rules", file), "utf8")) as { groups: Array<{ name: string }> }).groups);
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
    expect([...(rule.spec.groups ?? [])].sort(byName)).toEqual([...groups].sort(byName));
  });

  it("binds its roles, and only those, to the exporter's ServiceAccount", async () => {
    const objects = await kustomize(dir);
    const account = one<ServiceAccount>(objects, "ServiceAccount");
    const deployment = workloadOf(objects);
    expect(deployment.spec!.template.spec!.serviceAccountName).toBe(account.metadata!.name);
    expect(account.metadata!.namespace).toBe(deployment.metadata!.namespace);
    const subject = { kind: "ServiceAccount", name: account.metadata!.name, namespace: account.metadata!.namespace };
    const defined = (kind: string, name: string, namespace?: string) =>
      objects.some((o) => o.kind === kind && o.metadata.name === name && (kind === "ClusterRole" || o.metadata.namespace === namespace));

    const clusterBindings = objects.filter((o) => o.kind === "ClusterRoleBinding") as unknown as ClusterRoleBinding[];
    expect(clusterBindings).toHaveLength(1);
    for (const binding of clusterBindings) {
      expect(binding.roleRef.apiGroup).toBe(RBAC_GROUP);
      expect(binding.roleRef.kind).toBe("ClusterRole");
      expect(defined("ClusterRole", binding.roleRef.name), `ClusterRole ${binding.roleRef.name}`).toBe(true);
      expect(binding.subjects).toEqual([subject]);
    }
    const roleBindings = objects.filter((o) => o.kind === "RoleBinding") as unknown as RoleBinding[];
    for (const binding of roleBindings) {
      const namespace = binding.metadata!.namespace;
      expect(binding.roleRef.apiGroup).toBe(RBAC_GROUP);
      expect(binding.roleRef.kind).toBe("Role");
      expect(defined("Role", binding.roleRef.name, namespace), `Role ${namespace}/${binding.roleRef.name}`).toBe(true);
      expect(binding.subjects).toEqual([subject]);
    }
    // Pods are read where the exporter watches them: Role and RoleBinding in each KUBE_NAMESPACES
    // namespace, none elsewhere; without KUBE_NAMESPACES the ClusterRole covers pods.
    const env = deployment.spec!.template.spec!.containers[0]!.env ?? [];
    const namespaces = (env.find((e) => e.name === "KUBE_NAMESPACES")?.value ?? "").split(",").map((n) => n.trim()).filter(Boolean).sort();
    const podRoles = (objects.filter((o) => o.kind === "Role") as unknown as Role[]).filter((r) => (r.rules ?? []).some((rule) => rule.resources?.includes("pods")));
    const podRoleKeys = new Set(podRoles.map((r) => `${r.metadata!.namespace}/${r.metadata!.name}`));
    expect(podRoles.map((r) => r.metadata!.namespace).sort()).toEqual(namespaces);
    expect(roleBindings.filter((b) => podRoleKeys.has(`${b.metadata!.namespace}/${b.roleRef.name}`)).map((b) => b.metadata!.namespace).sort()).toEqual(namespaces);
    const clusterRoles = objects.filter((o) => o.kind === "ClusterRole") as unknown as ClusterRole[];
    const clusterPods = clusterRoles.some((r) => (r.rules ?? []).some((rule) => rule.resources?.includes("pods")));
    expect(clusterPods).toBe(namespaces.length === 0);
  });

  it("requests memory for the benchmark's soak RSS plus 25%, with a limit at least twice the request", async () => {
    const objects = await kustomize(dir);
    const resources = workloadOf(objects).spec!.template.spec!.containers[0]!.resources!;
    const bench = JSON.parse(await readFile(path.join(ROOT, "bench/results/default.json"), "utf8")) as { rss_soak_mib?: unknown };
    expect(typeof bench.rss_soak_mib, "bench/results/default.json has no rss_soak_mib").toBe("number");
    const soak = bench.rss_soak_mib as number;
    const request = mebibytes(resources.requests!.memory as string);
    const limit = mebibytes(resources.limits!.memory as string);
    expect(request, `memory request ${request} MiB is below the soak RSS ${soak.toFixed(0)} MiB plus 25%`).toBeGreaterThanOrEqual(soak * 1.25);
    expect(limit, `memory limit ${limit} MiB is below twice the request`).toBeGreaterThanOrEqual(2 * request);
  });

  it("requests at least the CPU the benchmark's steady window used", async () => {
    const objects = await kustomize(dir);
    const resources = workloadOf(objects).spec!.template.spec!.containers[0]!.resources!;
    expect(BENCH_CPU_STEADY, "bench/results/default.json holds cpu_steady_cores").toBeTypeOf("number");
    const steady = BENCH_CPU_STEADY as number;
    const request = cores(resources.requests!.cpu as string);
    expect(request, `CPU request ${request} cores is below the benchmark's steady ${steady.toFixed(3)} cores`).toBeGreaterThanOrEqual(steady);
  });

  it("rolls out with the new pod ready before the old one stops, or one replica of a shard at a time, so webhooks always have an endpoint", async () => {
    const objects = await kustomize(dir);
    const workload = workloadOf(objects);
    if (workload.kind === "Deployment") {
      expect(workload.spec!.replicas).toBe(1);
      expect((workload as Deployment).spec!.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      return;
    }
    expectShardedWorkload(objects);
  });

  it("gives the pod time for the shutdown grace period, the drain and a margin before the kubelet kills it", async () => {
    const pod = workloadOf(await kustomize(dir)).spec!.template.spec!;
    const env = pod.containers[0]!.env ?? [];
    const grace = Number(env.find((e) => e.name === "SHUTDOWN_GRACE_SECONDS")?.value ?? SETTINGS.find((s) => s.name === "SHUTDOWN_GRACE_SECONDS")!.default);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(grace + DRAIN_LIMIT_SECONDS + 5);
  });

  it("sets no CPU limit", async () => {
    const objects = await kustomize(dir);
    const resources = workloadOf(objects).spec!.template.spec!.containers[0]!.resources!;
    // A CFS quota would throttle the scrapes' and start-up's bursts into latency (see deployment.yaml).
    expect(resources.limits?.cpu, "CPU limit").toBeUndefined();
  });
});

/** The StatefulSet variant: shards of SHARD_REPLICAS replicas, peers by a headless Service, one replica down at a time, spread over nodes. */
function expectShardedWorkload(objects: K8sObject[]): void {
  const workload = workloadOf(objects) as StatefulSet;
  expect(workload.kind).toBe("StatefulSet");
  const env = podEnv(workload);
  const perShard = Number(env.SHARD_REPLICAS ?? "1");
  expect(env).toMatchObject({ SHARD: "auto", TOTAL_SHARDS: "auto", POD_NAME: `${workload.metadata!.name}-0`, POD_NAMESPACE: workload.metadata!.namespace });
  expect(workload.spec!.replicas! % perShard).toBe(0);
  expect(workload.spec!.replicas! / perShard).toBeGreaterThanOrEqual(2);
  expect(workload.spec!.podManagementPolicy).toBe("Parallel");
  expect(workload.spec!.updateStrategy).toEqual({ type: "RollingUpdate" });
  const podLabels = workload.spec!.template.metadata!.labels!;
  const selects = (selector: Record<string, string> | undefined) => Object.entries(selector ?? {}).length > 0 && Object.entries(selector ?? {}).every(([k, v]) => podLabels[k] === v);
  const peers = one<Service>(objects, "Service", workload.spec!.serviceName);
  expect(peers.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true, ports: [{ name: "metrics", targetPort: "metrics" }] });
  expect(selects(peers.spec!.selector)).toBe(true);
  const budget = one<PodDisruptionBudget>(objects, "PodDisruptionBudget");
  expect(budget.spec!.maxUnavailable).toBe(1);
  expect(selects(budget.spec!.selector!.matchLabels)).toBe(true);
  const antiAffinity = workload.spec!.template.spec!.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  expect(antiAffinity.map((term) => term.podAffinityTerm.topologyKey)).toEqual(["kubernetes.io/hostname"]);
  expect(selects(antiAffinity[0]!.podAffinityTerm.labelSelector!.matchLabels)).toBe(true);
  // Leases and the StatefulSet, in the exporter's namespace only.
  const role = (objects.filter((o) => o.kind === "Role") as unknown as Role[]).find((r) => r.metadata!.namespace === workload.metadata!.namespace)!;
  expect(role.rules).toEqual([
    { apiGroups: ["apps"], resources: ["statefulsets"], resourceNames: [workload.metadata!.name], verbs: ["get"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update"] },
  ]);
  const binding = (objects.filter((o) => o.kind === "RoleBinding") as unknown as RoleBinding[]).find((b) => b.roleRef.name === role.metadata!.name)!;
  expect(binding.metadata!.namespace).toBe(role.metadata!.namespace);
}

describe("the sharded overlay", () => {
  it("runs the base's pod as a StatefulSet of shards, with only the sharding settings and the spread over nodes added", async () => {
    const objects = await kustomize("deploy/kubernetes/overlays/sharded");
    expectShardedWorkload(objects);
    const base = workloadOf(await kustomize("deploy/kubernetes")).spec!.template;
    const sharded = structuredClone(workloadOf(objects).spec!.template);
    const sharding = new Set(["SHARD", "TOTAL_SHARDS", "SHARD_REPLICAS", "POD_NAME", "POD_NAMESPACE"]);
    const container = sharded.spec!.containers[0]!;
    container.env = container.env!.filter((e) => !sharding.has(e.name));
    delete sharded.spec!.affinity;
    expect(sharded).toEqual(base);
  });
});

describe("RBAC", () => {
  it("grants only get, list and watch on pods and nodes in the base", async () => {
    const objects = await kustomize("deploy/kubernetes");
    expect(objects.filter((o) => o.kind === "Role")).toEqual([]);
    expect(one<ClusterRole>(objects, "ClusterRole").rules).toEqual(POD_AND_NODE_READER);
    const binding = one<ClusterRoleBinding>(objects, "ClusterRoleBinding");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "gitlab-ci-k8s-exporter", namespace: "monitoring" }]);
  });

  it("reads pods only in the runner namespaces and nodes cluster-wide in the namespaced overlay", async () => {
    const objects = await kustomize("deploy/kubernetes/overlays/namespaced");
    expect(one<ClusterRole>(objects, "ClusterRole").rules).toEqual([{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] }]);
    const role = one<Role>(objects, "Role");
    expect(role.metadata!.namespace).toBe("gitlab-runner");
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    const binding = one<RoleBinding>(objects, "RoleBinding");
    expect(binding.metadata!.namespace).toBe("gitlab-runner");
    expect(binding.roleRef).toEqual({ apiGroup: RBAC_GROUP, kind: "Role", name: role.metadata!.name });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "gitlab-ci-k8s-exporter", namespace: "monitoring" }]);
    const env = one<Deployment>(objects, "Deployment").spec!.template.spec!.containers[0]!.env!;
    expect(env.find((e) => e.name === "KUBE_NAMESPACES")?.value).toBe("gitlab-runner");
  });
});

describe("the in-cluster-gitlab overlay", () => {
  it("admits only GitLab's Sidekiq and Prometheus to the exporter's named port, in the exporter's namespace", async () => {
    const objects = await kustomize("deploy/kubernetes/overlays/in-cluster-gitlab");
    const policy = one<NetworkPolicy>(objects, "NetworkPolicy");
    const deployment = one<Deployment>(objects, "Deployment");
    expect(policy.metadata!.namespace).toBe(deployment.metadata!.namespace);
    for (const [key, value] of Object.entries(policy.spec!.podSelector.matchLabels ?? {})) expect(deployment.spec!.template.metadata!.labels?.[key]).toBe(value);
    expect(policy.spec!.policyTypes).toEqual(["Ingress"]);
    const peers = policy.spec!.ingress!.map((rule) => {
      expect(rule.ports).toEqual([{ port: "metrics", protocol: "TCP" }]);
      return rule.from!.map((peer) => [peer.namespaceSelector?.matchLabels, peer.podSelector?.matchLabels]);
    });
    expect(peers).toEqual([
      [[{ "kubernetes.io/metadata.name": "gitlab" }, { app: "sidekiq" }]],
      [[{ "kubernetes.io/metadata.name": "monitoring" }, { "app.kubernetes.io/name": "prometheus" }]],
    ]);
  });
});

describe("the Secret example", () => {
  it("validates and holds no real value", async () => {
    const secret = await secretExample();
    expect(() => new Secret(secret as never).validate()).not.toThrow();
    expect(secret.data).toBeUndefined();
    expect(Object.values(secret.stringData ?? {})).toEqual(["REPLACE_ME", "REPLACE_ME"]);
  });
});

/** The `"key" = "value"` entries of one TOML table, e.g. `runners.kubernetes.pod_labels`. */
function tomlTable(toml: string, table: string): Record<string, string> {
  const lines = toml.split("\n");
  const start = lines.findIndex((l) => l.trim() === `[${table}]`);
  if (start < 0) return {};
  const end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  const entries = lines.slice(start + 1, end < 0 ? undefined : end).map((l) => /^\s*"([^"]+)"\s*=\s*"([^"]*)"\s*$/.exec(l));
  return Object.fromEntries(entries.filter((m) => m !== null).map((m) => [m[1]!, m[2]!]));
}

/** The runner config.toml of each file: config.toml itself, and runners.config of the Helm values. */
async function runnerConfigs(): Promise<Array<{ file: string; toml: string }>> {
  const toml = await readFile(path.join(ROOT, "deploy/gitlab-runner/config.toml"), "utf8");
  const values = parse(await readFile(path.join(ROOT, "deploy/gitlab-runner/values.yaml"), "utf8")) as { runners: { config: string } };
  return [
    { file: "deploy/gitlab-runner/config.toml", toml },
    { file: "deploy/gitlab-runner/values.yaml", toml: values.runners.config },
  ];
}

describe("the gitlab-runner settings", () => {
  it("turn the runner's own metrics on, in config.toml and in the Helm values", async () => {
    const toml = await readFile(path.join(ROOT, "deploy/gitlab-runner/config.toml"), "utf8");
    // listen_address is global: after the first table header it would belong to that table.
    const global = toml.slice(0, toml.search(/^\s*\[/m));
    expect(global).toMatch(/^listen_address = ":9252"$/m);
    const values = parse(await readFile(path.join(ROOT, "deploy/gitlab-runner/values.yaml"), "utf8")) as { metrics: { enabled: boolean; port: number } };
    expect(values.metrics).toMatchObject({ enabled: true, port: 9252 });
  });

  it("label job pods with the slugs of project path, ref and job name, the label keys the kube-state-metrics allowlist names", async () => {
    const keySets: string[][] = [];
    for (const { file, toml } of await runnerConfigs()) {
      const labels = tomlTable(toml, "runners.kubernetes.pod_labels");
      // Label values allow only [A-Za-z0-9-_.] and 63 characters: the slug variables, not the paths.
      expect(Object.values(labels).sort(), file).toEqual(["$CI_COMMIT_REF_SLUG", "$CI_JOB_NAME_SLUG", "$CI_PROJECT_PATH_SLUG"]);
      // The runner ignores pod_labels in its reserved runner.gitlab.com namespace.
      for (const key of Object.keys(labels)) expect(key, file).not.toMatch(/(^|\.)runner\.gitlab\.com\//);
      keySets.push(Object.keys(labels).sort());
    }
    const keys = keySets[0]!;
    for (const set of keySets) expect(set).toEqual(keys);

    const readme = await readFile(path.join(ROOT, "deploy/gitlab-runner/README.md"), "utf8");
    const flag = /--metric-labels-allowlist=pods=\[([^\]]*)\]/.exec(readme);
    expect(flag, "the kube-state-metrics flag").not.toBeNull();
    expect(flag![1]!.split(",").sort()).toEqual(keys);
    // The kube-state-metrics chart's values, top level or under kube-prometheus-stack's kube-state-metrics key.
    const blocks = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => parse(m[1]!) as Record<string, unknown>);
    const allowlists = blocks.flatMap((values) => {
      const nested = values["kube-state-metrics"] as Record<string, unknown> | undefined;
      return [values.metricLabelsAllowlist, nested?.metricLabelsAllowlist].filter((list) => list !== undefined);
    });
    expect(allowlists.length, "metricLabelsAllowlist values").toBeGreaterThanOrEqual(1);
    for (const list of allowlists) {
      expect(list).toEqual([expect.stringMatching(/^pods=\[[^\]]*\]$/)]);
      expect((list as string[])[0]!.slice("pods=[".length, -1).split(",").sort()).toEqual(keys);
    }
  });

  it("name annotations the exporter settings of exporter-env.yaml read, and those settings load", async () => {
    const env = parse(await readFile(path.join(ROOT, "deploy/gitlab-runner/exporter-env.yaml"), "utf8")) as Array<{ name: string; value: string }>;
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    for (const { name } of env) expect(known.has(name), name).toBe(true);
    const config = loadConfig({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "glpat-0123456789abcdef", GITLAB_GROUPS: "acme", ...Object.fromEntries(env.map((e) => [e.name, e.value])) });
    expect(config.kube.pods.jobPod.keys.ref).toContain("ci.gitlab-ci-k8s-exporter.io/ref");
    const configured = new Set(env.flatMap((e) => e.value.split(",")));
    for (const { file, toml } of await runnerConfigs()) {
      const annotations = tomlTable(toml, "runners.kubernetes.pod_annotations");
      const keys = Object.entries(annotations).filter(([, value]) => /^\$CI_[A-Z_]+$/.test(value)).map(([key]) => key);
      expect(keys.length, file).toBe(5);
      for (const key of keys) expect(configured.has(key), `${file}: ${key}`).toBe(true);
    }
  });
});

describe("the Dockerfile", () => {
  it("builds in stages onto a non-root Node.js 22+ runtime with production dependencies only, and no HEALTHCHECK", async () => {
    const lines = (await readFile(path.join(ROOT, "Dockerfile"), "utf8")).split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    const stages = lines.filter((l) => /^FROM /i.test(l));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = lines.slice(lines.lastIndexOf(stages.at(-1)!));
    expect(stages.at(-1)).toMatch(/nodejs(2[2-9]|[3-9]\d)|node:(2[2-9]|[3-9]\d)/);
    expect(runtime.find((l) => /^USER /.test(l))).toMatch(/^USER (?!root|0\b)\S+/);
    expect(lines.some((l) => /^HEALTHCHECK/i.test(l))).toBe(false);
    expect(lines.some((l) => /npm ci --omit=dev/.test(l))).toBe(true);
    expect(runtime.find((l) => /^ENTRYPOINT/.test(l))).toContain("dist/src/cli.js");
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(Object.values(pkg.bin)).toEqual(["dist/src/cli.js"]);
    // The compiled sources read the version from the package.json tsc emits into dist/.
    expect(pkg.files).toContain("dist");
    const ignored = (await readFile(path.join(ROOT, ".dockerignore"), "utf8")).split("\n");
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", ".git"]));
  });

  it("runs Node.js with exactly the runtime settings the benchmark measured (deploy/runtime.json)", async () => {
    const runtime = JSON.parse(await readFile(path.join(ROOT, "deploy", "runtime.json"), "utf8")) as { nodeFlags: string[]; env: Record<string, string> };
    // Joined continuation lines, so one ENV instruction may set several variables.
    const instructions = (await readFile(path.join(ROOT, "Dockerfile"), "utf8"))
      .replace(/\\\n/g, " ")
      .split("\n")
      .filter((l) => l.trim() && !l.trim().startsWith("#"));
    const finalStage = instructions.slice(instructions.findLastIndex((l) => /^FROM /i.test(l)));
    const env: Record<string, string> = {};
    for (const line of finalStage.filter((l) => /^ENV /.test(l))) {
      for (const [, key, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
    }
    expect(Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith("MALLOC_")))).toEqual(runtime.env);
    const entrypoint = JSON.parse(finalStage.find((l) => /^ENTRYPOINT /.test(l))!.slice("ENTRYPOINT ".length)) as string[];
    expect(entrypoint.slice(1, -1)).toEqual(runtime.nodeFlags);
  });
});

describe("npm start", () => {
  it("builds first, then runs the compiled command as the image does, with the same runtime settings", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; scripts: Record<string, string> };
    const runtime = JSON.parse(await readFile(path.join(ROOT, "deploy", "runtime.json"), "utf8")) as { nodeFlags: string[]; env: Record<string, string> };
    expect(pkg.scripts.prestart).toBe("npm run build");
    const words = pkg.scripts.start!.split(/\s+/);
    const node = words.indexOf("node");
    const env = Object.fromEntries(words.slice(0, node).map((word) => word.split("=") as [string, string]));
    expect(env).toEqual(runtime.env);
    expect(words.slice(node + 1, -1)).toEqual(runtime.nodeFlags);
    expect(words.at(-1)).toBe(Object.values(pkg.bin)[0]);
    const dockerfile = (await readFile(path.join(ROOT, "Dockerfile"), "utf8")).split("\n");
    const entrypoint = JSON.parse(dockerfile.find((l) => /^ENTRYPOINT /.test(l))!.slice("ENTRYPOINT ".length)) as string[];
    expect(entrypoint.at(-1)).toBe(words.at(-1));
    expect(dockerfile).toContain("RUN npm run build");
  });
});

describe("the image", () => {
  it("is the one the README names, run by the kustomize base and the Helm chart at the package's version", async () => {
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const named = /The image is `([^`]+)`, tagged\s+with the version \(`([^`]+)`\)/.exec(readme);
    expect(named).not.toBeNull();
    const [, repository, tag] = named!;
    const { version } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(tag).toBe(version);
    const deployment = parse(await readFile(path.join(ROOT, "deploy/kubernetes/base/deployment.yaml"), "utf8")) as Deployment;
    expect(deployment.spec!.template.spec!.containers[0]!.image).toBe(`${repository}:${version}`);
    const chart = path.join(ROOT, "deploy/helm/gitlab-ci-k8s-exporter");
    const values = parse(await readFile(path.join(chart, "values.yaml"), "utf8")) as { image: { repository: string; tag: string } };
    expect(values.image).toMatchObject({ repository, tag: "" });
    expect((parse(await readFile(path.join(chart, "Chart.yaml"), "utf8")) as { appVersion: string }).appVersion).toBe(version);
  });
});
