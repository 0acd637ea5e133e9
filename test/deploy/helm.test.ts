import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { Deployment } from "kubernetes-models/apps/v1/Deployment";
import type { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { Secret } from "kubernetes-models/v1/Secret";
import type { Service } from "kubernetes-models/v1/Service";
import type { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../mixin/render.js";
import { loadConfig } from "../../src/config/load.js";
import { SETTINGS } from "../../src/config/settings.js";
import { DRAIN_LIMIT_SECONDS } from "../../src/shutdown.js";
import { CHART_SETTINGS, settingSchema, typedDefault } from "../../scripts/chart-settings.js";
import { CHART_DIR, helm, helmTemplate, type K8sObject, validationErrors } from "./manifests.js";

const READ = ["get", "list", "watch"];

/** Everything optional turned on, and RBAC, Secrets and settings away from their defaults. */
const FULL_VALUES = {
  settings: { GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: ["platform", "apps"], KUBE_NAMESPACES: "gitlab-runner, builds", LOG_LEVEL: "debug" },
  rbac: { namespaced: true },
  gitlabToken: { existingSecret: "gitlab-api", key: "token" },
  webhookSecret: { enabled: true, existingSecret: "gitlab-webhook", key: "secret" },
  ingress: { enabled: true, className: "nginx", host: "ci-exporter.acme.test", tlsSecretName: "ci-exporter-tls" },
  serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } },
  prometheusRule: { enabled: true },
  dashboards: { enabled: true, namespace: "grafana" },
};

const defaults = helmTemplate();
const full = helmTemplate(FULL_VALUES, { release: "ci" });

function all<T = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

function one<T = K8sObject>(objects: K8sObject[], kind: string): T {
  const found = all<T>(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
}

function containerOf(objects: K8sObject[]) {
  return one<Deployment>(objects, "Deployment").spec!.template.spec!.containers[0]!;
}

function envOf(objects: K8sObject[]): Record<string, string> {
  return Object.fromEntries((containerOf(objects).env ?? []).map((e) => [e.name, e.value ?? ""]));
}

async function ruleGroups(dir: string): Promise<Array<{ name: string }>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  expect(files.length).toBeGreaterThan(0);
  const groups: Array<{ name: string }> = [];
  for (const file of files) groups.push(...(parse(await readFile(path.join(dir, file), "utf8")) as { groups: Array<{ name: string }> }).groups);
  return groups;
}

describe("helm lint", () => {
  it("passes --strict with the default values and with every option on", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "helm-lint-"));
    try {
      await writeFile(path.join(dir, "values.json"), JSON.stringify(FULL_VALUES));
      await Promise.all([helm(["lint", "--strict", CHART_DIR]), helm(["lint", "--strict", CHART_DIR, "-f", path.join(dir, "values.json")])]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses settings the exporter does not know, plain-text secrets and namespaced RBAC without namespaces", async () => {
    await Promise.all([
      expect(helmTemplate({ settings: { GITLAB_POLL_INTERVAL: 30 } })).rejects.toThrow(/additional properties 'GITLAB_POLL_INTERVAL' not allowed/),
      expect(helmTemplate({ settings: { GITLAB_TOKEN: "glpat-secret" } })).rejects.toThrow(/additional properties 'GITLAB_TOKEN' not allowed/),
      expect(helmTemplate({ settings: { LOG_LEVEL: "loud" } })).rejects.toThrow(/LOG_LEVEL/),
      expect(helmTemplate({ rbac: { namespaced: true } })).rejects.toThrow(/rbac.namespaced needs settings.KUBE_NAMESPACES/),
    ]);
  });
});

describe("helm template", () => {
  it.each([
    ["default values", defaults],
    ["every option on", full],
  ])("renders objects that validate against their Kubernetes schemas with %s", async (_, rendered) => {
    const objects = await rendered;
    expect(validationErrors(objects)).toEqual([]);
    for (const object of objects) expect(object.metadata.labels?.["app.kubernetes.io/name"], `${object.kind} ${object.metadata.name}`).toBe("gitlab-ci-k8s-exporter");
  });

  it("renders the exporter, its Service and cluster-wide read RBAC by default, and nothing optional", async () => {
    const objects = await defaults;
    expect(objects.map((o) => o.kind).sort()).toEqual(["ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "ServiceAccount"]);
    expect(containerOf(objects).image).toBe(`ghcr.io/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter:${(parse(await readFile(path.join(CHART_DIR, "Chart.yaml"), "utf8")) as { appVersion: string }).appVersion}`);
  });

  it("waits for the shutdown grace period of the settings, the drain and a margin before the kubelet kills the pod", async () => {
    const base = { GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: "acme" };
    const grace = (objects: K8sObject[]) => one<Deployment>(objects, "Deployment").spec!.template.spec!.terminationGracePeriodSeconds;
    const defaultGrace = Number(SETTINGS.find((s) => s.name === "SHUTDOWN_GRACE_SECONDS")!.default);
    expect(grace(await defaults)).toBe(defaultGrace + DRAIN_LIMIT_SECONDS + 10);
    for (const [setting, seconds] of [[45, 45], ["2.5", 3], [0, 0]] as const) {
      const objects = await helmTemplate({ settings: { ...base, SHUTDOWN_GRACE_SECONDS: setting } });
      expect(grace(objects), String(setting)).toBe(seconds + DRAIN_LIMIT_SECONDS + 10);
    }
  });

  it("runs shards × replicasPerShard pods of a StatefulSet in place of the Deployment, each taking its shard from its ordinal", async () => {
    const objects = await helmTemplate({ shards: 4, replicasPerShard: 2, serviceMonitor: { enabled: true } }, { release: "ci" });
    expect(validationErrors(objects)).toEqual([]);
    expect(all(objects, "Deployment")).toEqual([]);
    const statefulSet = one<K8sObject & { spec: { replicas: number; serviceName: string; template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } } }>(objects, "StatefulSet");
    expect(statefulSet.spec.replicas).toBe(8);
    const env = Object.fromEntries(statefulSet.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ SHARD: "auto", TOTAL_SHARDS: "auto", SHARD_REPLICAS: "2" });
    expect(all<Service>(objects, "Service").map((svc) => svc.metadata!.name).sort()).toEqual(["ci-gitlab-ci-k8s-exporter", statefulSet.spec.serviceName].sort());
    const role = one<Role>(objects, "Role");
    expect(role.rules!.find((rule) => rule.resources?.includes("statefulsets"))!.resourceNames).toEqual([statefulSet.metadata.name]);
    // The ServiceMonitor scrapes every replica through the Service, which selects them all.
    const monitor = one<ServiceMonitor>(objects, "ServiceMonitor");
    expect(monitor.spec.selector.matchLabels).toMatchObject({ "app.kubernetes.io/name": "gitlab-ci-k8s-exporter" });
    await expect(helmTemplate({ settings: { GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: "acme", TOTAL_SHARDS: 3 } })).rejects.toThrow(/TOTAL_SHARDS/);
    await expect(helmTemplate({ shards: 0 })).rejects.toThrow(/shards/);
  });

  it("takes appVersion from package.json", async () => {
    const chart = parse(await readFile(path.join(CHART_DIR, "Chart.yaml"), "utf8")) as { apiVersion: string; appVersion: string };
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(chart).toMatchObject({ apiVersion: "v2", appVersion: pkg.version });
  });

  it("reads pods through a Role in each KUBE_NAMESPACES namespace and nodes through a ClusterRole when namespaced", async () => {
    const objects = await full;
    const account = one<K8sObject>(objects, "ServiceAccount");
    const subject = { kind: "ServiceAccount", name: account.metadata.name, namespace: "monitoring" };
    expect(one<ClusterRole>(objects, "ClusterRole").rules).toEqual([{ apiGroups: [""], resources: ["nodes"], verbs: READ }]);
    const roles = all<Role>(objects, "Role");
    expect(roles.map((r) => r.metadata!.namespace).sort()).toEqual(["builds", "gitlab-runner"]);
    for (const role of roles) expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: READ }]);
    const bindings = all<RoleBinding>(objects, "RoleBinding");
    expect(bindings.map((b) => b.metadata!.namespace).sort()).toEqual(["builds", "gitlab-runner"]);
    for (const binding of bindings) {
      expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roles[0]!.metadata!.name });
      expect(binding.subjects).toEqual([subject]);
    }
    expect(envOf(objects).KUBE_NAMESPACES).toBe("gitlab-runner, builds");
  });

  it("grants nothing cluster-wide when namespaced without nodes, and no RBAC at all without Kubernetes", async () => {
    const [namespaced, clusterWide, gitlabOnly] = await Promise.all([
      helmTemplate({ rbac: { namespaced: true }, settings: { ...FULL_VALUES.settings, KUBE_NODES_ENABLED: false } }),
      helmTemplate({ settings: { GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: "acme", KUBE_NODES_ENABLED: "false" } }),
      helmTemplate({ settings: { GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: "acme", KUBE_ENABLED: false } }),
    ]);
    expect(namespaced.filter((o) => o.kind.startsWith("Cluster"))).toEqual([]);
    expect(all(namespaced, "Role")).toHaveLength(2);
    expect(one<ClusterRole>(clusterWide, "ClusterRole").rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: READ }]);
    expect(gitlabOnly.filter((o) => o.apiVersion.startsWith("rbac."))).toEqual([]);
  });

  it("mounts the token and the webhook secret from existing Secrets by their keys, as files the settings name", async () => {
    const objects = await full;
    expect(all(objects, "Secret")).toEqual([]);
    const pod = one<Deployment>(objects, "Deployment").spec!.template.spec!;
    const mount = containerOf(objects).volumeMounts!.find((m) => m.name === "secrets")!;
    expect(mount).toMatchObject({ readOnly: true });
    expect(mount.subPath, "a subPath mount misses Secret rotations").toBeUndefined();
    const sources = pod.volumes!.find((v) => v.name === "secrets")!.projected!.sources!;
    const files = Object.fromEntries(sources.flatMap((s) => s.secret!.items!.map((item) => [`${mount.mountPath}/${item.path}`, `${s.secret!.name}/${item.key}`])));
    const env = envOf(objects);
    expect(files[env.GITLAB_TOKEN_FILE!]).toBe("gitlab-api/token");
    expect(files[env.GITLAB_WEBHOOK_SECRET_FILE!]).toBe("gitlab-webhook/secret");
  });

  it("creates the Secret from values when asked, and rolls the pod when it changes", async () => {
    const values = (token: string) => ({ secret: { create: true, gitlabToken: token, webhookSecret: "hook-secret" } });
    const [objects, rotated] = await Promise.all([helmTemplate(values("glpat-one")), helmTemplate(values("glpat-two"))]);
    const secret = one<Secret>(objects, "Secret");
    const decoded = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    expect(decoded).toEqual({ "gitlab-token": "glpat-one", "webhook-secret": "hook-secret" });
    const sources = one<Deployment>(objects, "Deployment").spec!.template.spec!.volumes![0]!.projected!.sources!;
    expect(sources.map((s) => s.secret!.name)).toEqual([secret.metadata!.name, secret.metadata!.name]);
    const checksum = (o: K8sObject[]) => one<Deployment>(o, "Deployment").spec!.template.metadata!.annotations?.["checksum/secret"];
    expect(checksum(objects)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(rotated)).not.toBe(checksum(objects));
    await expect(helmTemplate({ secret: { create: true } })).rejects.toThrow(/secret.gitlabToken is required/);
  });

  it("exposes only the webhook path through the Ingress", async () => {
    const objects = await full;
    const ingress = one<Ingress>(objects, "Ingress");
    const service = one<Service>(objects, "Service");
    expect(ingress.spec!.ingressClassName).toBe("nginx");
    expect(ingress.spec!.tls).toEqual([{ hosts: ["ci-exporter.acme.test"], secretName: "ci-exporter-tls" }]);
    expect(ingress.spec!.rules).toEqual([
      {
        host: "ci-exporter.acme.test",
        http: { paths: [{ path: "/webhooks/gitlab", pathType: "Exact", backend: { service: { name: service.metadata!.name, port: { name: "metrics" } } } }] },
      },
    ]);
  });

  it("scrapes the Service with honorLabels under job=\"gitlab-ci-k8s-exporter\", the job the rules select, whatever the release", async () => {
    const objects = await full;
    const monitor = one<ServiceMonitor>(objects, "ServiceMonitor");
    const service = one<Service>(objects, "Service");
    expect(service.metadata!.name).toBe("ci-gitlab-ci-k8s-exporter");
    expect(monitor.metadata!.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: "metrics", honorLabels: true, path: "/metrics" })]);
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels ?? {})) expect(service.metadata!.labels?.[key]).toBe(value);
    const job = service.metadata!.labels![monitor.spec.jobLabel!];
    expect(job).toBe("gitlab-ci-k8s-exporter");
    const rules = await readFile(path.join(ROOT, "rules", "gitlab-ci-rules.yaml"), "utf8");
    expect(rules).toContain(`job="${job}"`);
  });

  it("carries exactly the generated rules/ in its PrometheusRule, from a copy that has not drifted", async () => {
    const rule = one<PrometheusRule>(await full, "PrometheusRule");
    const groups = await ruleGroups(path.join(ROOT, "rules"));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect([...(rule.spec.groups ?? [])].sort(byName)).toEqual([...groups].sort(byName));
    for (const dir of ["rules", "dashboards"]) {
      const committed = (await readdir(path.join(ROOT, dir))).sort();
      const copied = (await readdir(path.join(CHART_DIR, "files", dir))).sort();
      expect(copied, `files/${dir}: copy ${dir}/ into ${path.relative(ROOT, CHART_DIR)}/files/${dir}/`).toEqual(committed);
      for (const file of committed) {
        const same = (await readFile(path.join(ROOT, dir, file), "utf8")) === (await readFile(path.join(CHART_DIR, "files", dir, file), "utf8"));
        expect(same, `files/${dir}/${file} differs from ${dir}/${file}: copy it again after npm run mixin`).toBe(true);
      }
    }
  });

  it("ships each generated dashboard as a ConfigMap for Grafana's sidecar", async () => {
    const maps = all<ConfigMap>(await full, "ConfigMap");
    const files = (await readdir(path.join(ROOT, "dashboards"))).filter((f) => f.endsWith(".json")).sort();
    expect(maps.flatMap((m) => Object.keys(m.data ?? {})).sort()).toEqual(files);
    for (const map of maps) {
      expect(map.metadata!.labels).toMatchObject({ grafana_dashboard: "1" });
      expect(map.metadata!.namespace).toBe("grafana");
      for (const [file, json] of Object.entries(map.data!)) expect(JSON.parse(json)).toEqual(JSON.parse(await readFile(path.join(ROOT, "dashboards", file), "utf8")));
    }
  });
});

describe("the chart's settings", () => {
  it("accept exactly the exporter's settings but the chart-managed ones and plain-text secrets, typed by kind", async () => {
    const schema = JSON.parse(await readFile(path.join(CHART_DIR, "values.schema.json"), "utf8")) as {
      properties: { settings: { additionalProperties: boolean; properties: Record<string, unknown> } };
    };
    const accepted = schema.properties.settings.properties;
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    expect(Object.keys(accepted).filter((name) => !known.has(name)), "settings the exporter does not know").toEqual([]);
    expect(schema.properties.settings.additionalProperties).toBe(false);
    const expected = Object.fromEntries(CHART_SETTINGS.map((spec) => [spec.name, settingSchema(spec)]));
    // A setting added to (or changed in) the table fails here with the entry values.schema.json needs.
    const differing = [...new Set([...Object.keys(expected), ...Object.keys(accepted)])].filter((name) => !isDeepStrictEqual(expected[name], accepted[name]));
    const wanted = Object.fromEntries(differing.map((name) => [name, expected[name] ?? "(remove it)"]));
    expect(differing, `values.schema.json properties.settings.properties needs: ${JSON.stringify(wanted)}`).toEqual([]);
    const values = parse(await readFile(path.join(CHART_DIR, "values.yaml"), "utf8")) as { settings: Record<string, unknown> };
    for (const name of Object.keys(values.settings)) expect(known.has(name), name).toBe(true);
  });

  it("render every default, typed as a values file types it, into env the exporter's config loader accepts unchanged", async () => {
    const withDefaults = CHART_SETTINGS.filter((s) => s.default !== undefined);
    const settings = { ...Object.fromEntries(withDefaults.map((s) => [s.name, typedDefault(s)])), GITLAB_URL: "https://gitlab.acme.test", GITLAB_GROUPS: "acme" };
    const env = envOf(await helmTemplate({ settings }));
    for (const spec of withDefaults) expect(env[spec.name], spec.name).toBe(spec.default);
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    const secrets = await mkdtemp(path.join(tmpdir(), "helm-secrets-"));
    try {
      const local = { ...env };
      for (const name of ["GITLAB_TOKEN_FILE", "GITLAB_WEBHOOK_SECRET_FILE"]) {
        local[name] = path.join(secrets, path.basename(env[name]!));
        await mkdir(path.dirname(local[name]), { recursive: true });
        await writeFile(local[name], "placeholder-value-0123456789\n");
      }
      expect(loadConfig(local)).toBeDefined();
    } finally {
      await rm(secrets, { recursive: true, force: true });
    }
  });
});
