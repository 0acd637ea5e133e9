import { execFile, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../mixin/render.js";
import { loadConfig } from "../../src/config/load.js";
import { SETTINGS } from "../../src/config/settings.js";

const run = promisify(execFile);

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: unknown };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment,
  Service,
  ServiceAccount,
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
  ServiceMonitor,
  PrometheusRule,
  Secret,
};

const rendered = new Map<string, Promise<K8sObject[]>>();

/** `kubectl kustomize <dir>`, rendered once per directory: the tests only read the objects. */
function kustomize(dir: string): Promise<K8sObject[]> {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = render(dir);
    rendered.set(dir, objects);
  }
  return objects;
}

async function render(dir: string): Promise<K8sObject[]> {
  if (spawnSync("sh", ["-c", "command -v kubectl"]).status !== 0) throw new Error("kubectl is not installed: run .ci/run, which installs it");
  const { stdout } = await run("kubectl", ["kustomize", path.join(ROOT, dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
}

/** What `kubectl apply -k` takes: the top level (the base) and every directory under overlays/. */
const OVERLAYS = readdirSync(path.join(ROOT, "deploy/kubernetes/overlays"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `deploy/kubernetes/overlays/${entry.name}`)
  .sort();
const TREES = ["deploy/kubernetes", ...OVERLAYS];

const COMMON_LABELS = { "app.kubernetes.io/name": "gitlab-ci-k8s-exporter", "app.kubernetes.io/part-of": "gitlab-ci-k8s-exporter" };

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
    const deployment = one<Deployment>(objects, "Deployment");
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.resources?.requests).toHaveProperty("memory");
    expect(container.resources?.limits).toHaveProperty("memory");
    expect(container.livenessProbe?.httpGet).toMatchObject({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe?.httpGet).toMatchObject({ path: "/readyz", port: "metrics" });

    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ""]));
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    // Secrets come from files on a mounted volume, never from plain env values.
    expect(env).not.toHaveProperty("GITLAB_TOKEN");
    expect(env).not.toHaveProperty("GITLAB_WEBHOOK_SECRET");
    const mounts = container.volumeMounts ?? [];
    for (const [name, value] of Object.entries(env).filter(([n]) => n.endsWith("_FILE"))) {
      const mount = mounts.find((m) => value.startsWith(`${m.mountPath}/`));
      expect(mount, `${name} is not on a mounted volume`).toBeDefined();
      expect(mount!.readOnly).toBe(true);
      expect(pod.volumes?.find((v) => v.name === mount!.name)?.secret?.secretName).toBe("gitlab-ci-k8s-exporter");
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
    const deployment = one<Deployment>(objects, "Deployment");
    const service = one<Service>(objects, "Service");
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
    const groups = [];
    for (const file of ["rules/gitlab-ci-alerts.yaml", "rules/gitlab-ci-rules.yaml"]) groups.push(...(parse(await readFile(path.join(ROOT, file), "utf8")) as { groups: unknown[] }).groups);
    expect(rule.spec.groups).toEqual(groups);
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
    expect(one<RoleBinding>(objects, "RoleBinding").subjects).toEqual([{ kind: "ServiceAccount", name: "gitlab-ci-k8s-exporter", namespace: "monitoring" }]);
    const env = one<Deployment>(objects, "Deployment").spec!.template.spec!.containers[0]!.env!;
    const namespaces = env.find((e) => e.name === "KUBE_NAMESPACES")!.value!.split(",");
    // Every watched namespace has its Role.
    expect(objects.filter((o) => o.kind === "Role").map((o) => o.metadata.namespace).sort()).toEqual(namespaces.sort());
  });
});

describe("the Secret example", () => {
  it("validates and holds no real value", async () => {
    const secret = parse(await readFile(path.join(ROOT, "deploy/kubernetes/base/secret.example.yaml"), "utf8")) as K8sObject & { stringData: Record<string, string> };
    expect(() => new Secret(secret as never).validate()).not.toThrow();
    expect(Object.values(secret.stringData)).toEqual(["REPLACE_ME", "REPLACE_ME"]);
  });
});

describe("the gitlab-runner settings", () => {
  it("name annotations the exporter settings of exporter-env.yaml read, and those settings load", async () => {
    const env = parse(await readFile(path.join(ROOT, "deploy/gitlab-runner/exporter-env.yaml"), "utf8")) as Array<{ name: string; value: string }>;
    const known = new Set<string>(SETTINGS.map((s) => s.name));
    for (const { name } of env) expect(known.has(name), name).toBe(true);
    const config = loadConfig({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "glpat-0123456789abcdef", GITLAB_GROUPS: "acme", ...Object.fromEntries(env.map((e) => [e.name, e.value])) });
    expect(config.kube.pods.jobPod.keys.ref).toContain("ci.gitlab-ci-k8s-exporter.io/ref");
    const configured = new Set(env.flatMap((e) => e.value.split(",")));
    for (const file of ["deploy/gitlab-runner/config.toml", "deploy/gitlab-runner/values.yaml"]) {
      const text = await readFile(path.join(ROOT, file), "utf8");
      const annotations = text.slice(text.indexOf("pod_annotations]"), text.indexOf("pod_labels]"));
      const keys = [...annotations.matchAll(/^\s*"([^"]+)" = "\$CI_[A-Z_]+"/gm)].map((m) => m[1]!);
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
});
