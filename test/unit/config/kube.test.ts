import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { BASE_ENV, configErrorOf } from "../../helpers/config.js";
import { loadKubeConfig } from "../../../src/sources/kube/client.js";

const base = BASE_ENV;
const errorOf = configErrorOf;

describe("Kubernetes settings", () => {
  it("default to gitlab-runner's keys and the providers' spot labels", () => {
    const { kube } = loadConfig(base);
    expect(kube.enabled).toBe(true);
    expect(kube.kubeconfigPaths).toEqual([]);
    expect(kube.namespaces).toEqual([]);
    expect(kube.nodesEnabled).toBe(true);
    expect(kube.watchStallMs).toBe(120_000);
    expect(kube.pods.jobPod.keys.jobId).toEqual(["job.runner.gitlab.com/id"]);
    expect(kube.pods.jobPod.keys.runnerName).toEqual(["manager.runner.gitlab.com/name"]);
    expect(kube.pods.jobPod.keys.pipelineId).toEqual([]);
    expect(kube.pods.jobPod.gitlabBasePath).toBe("");
    expect(kube.pods.jobPod.refMaxLength).toBe(128);
    expect(kube.nodes.spotSelectors).toContainEqual({ key: "eks.amazonaws.com/capacityType", value: "SPOT" });
    expect(kube.nodes.spotSelectors).toHaveLength(6);
    expect(kube.nodes.nodegroupKeys[0]).toBe("eks.amazonaws.com/nodegroup");
    expect(kube.nodes.instanceTypeKeys).toEqual(["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"]);
    expect(kube.nodes.zoneKeys).toEqual(["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"]);
    expect(kube.pods.jobPod.keys.projectId).toEqual(["project.runner.gitlab.com/id"]);
    expect(kube.pods.builders).toContainEqual({ builder: "buildah", prefix: "quay.io/buildah/" });
  });

  it("reads instance type and zone label overrides", () => {
    const { kube } = loadConfig({ ...base, KUBE_INSTANCE_TYPE_KEYS: "example.com/machine", KUBE_ZONE_KEYS: "example.com/rack,topology.kubernetes.io/zone", KUBE_PROJECT_ID_KEYS: "ci.example.com/project-id" });
    expect(kube.nodes).toMatchObject({ instanceTypeKeys: ["example.com/machine"], zoneKeys: ["example.com/rack", "topology.kubernetes.io/zone"] });
    expect(kube.pods.jobPod.keys.projectId).toEqual(["ci.example.com/project-id"]);
    expect(errorOf(() => loadConfig({ ...base, KUBE_ZONE_KEYS: "bad key" })).setting).toBe("KUBE_ZONE_KEYS");
  });

  it("turns the node watch off for namespaced installs", () => {
    expect(loadConfig({ ...base, KUBE_NODES_ENABLED: "false", KUBE_NAMESPACES: "gitlab-runner" }).kube).toMatchObject({ enabled: true, nodesEnabled: false, namespaces: ["gitlab-runner"] });
    expect(errorOf(() => loadConfig({ ...base, KUBE_NODES_ENABLED: "sometimes" })).message).toBe('invalid configuration: KUBE_NODES_ENABLED="sometimes": expected true or false');
  });

  it("exports the job pods' requests and limits only when told (kube-state-metrics has them)", () => {
    expect(loadConfig(base).kube.exportPodResources).toBe(false);
    expect(loadConfig({ ...base, KUBE_EXPORT_POD_RESOURCES: "true" }).kube.exportPodResources).toBe(true);
    expect(errorOf(() => loadConfig({ ...base, KUBE_EXPORT_POD_RESOURCES: "yes please" })).setting).toBe("KUBE_EXPORT_POD_RESOURCES");
  });

  it("reads overrides and GitLab's relative URL root", () => {
    const { kube } = loadConfig({
      ...base,
      GITLAB_URL: "https://example.com/gitlab/",
      KUBE_ENABLED: "false",
      KUBECONFIG: "/a/config:/b/config",
      KUBE_NAMESPACES: "ci, builds,ci",
      KUBE_JOB_ID_KEYS: "ci.example.com/job-id,job.runner.gitlab.com/id",
      KUBE_SPOT_NODE_SELECTORS: "lifecycle=Ec2Spot",
      KUBE_BUILDER_IMAGES: "kaniko=registry.example.com/kaniko",
      KUBE_REF_MAX_LENGTH: "40",
    });
    expect(kube.enabled).toBe(false);
    expect(kube.kubeconfigPaths).toEqual(["/a/config", "/b/config"]);
    expect(kube.namespaces).toEqual(["ci", "builds"]);
    expect(kube.pods.jobPod.keys.jobId).toEqual(["ci.example.com/job-id", "job.runner.gitlab.com/id"]);
    expect(kube.pods.jobPod.gitlabBasePath).toBe("/gitlab");
    expect(kube.nodes.spotSelectors).toEqual([{ key: "lifecycle", value: "Ec2Spot" }]);
    expect(kube.pods.builders).toEqual([{ builder: "kaniko", prefix: "registry.example.com/kaniko" }]);
    expect(kube.pods.jobPod.refMaxLength).toBe(40);
  });

  it.each([
    ["KUBE_ENABLED", "maybe"],
    ["KUBE_NAMESPACES", "Gitlab_Runner"],
    ["KUBE_JOB_URL_KEYS", "not a key"],
    ["KUBE_SPOT_NODE_SELECTORS", "karpenter.sh/capacity-type"],
    ["KUBE_SPOT_NODE_SELECTORS", "a=b c"],
    ["KUBE_BUILDER_IMAGES", "gcr.io/kaniko-project/executor"],
    ["KUBE_BUILDER_IMAGES", "Kaniko=x"],
    ["KUBE_WATCH_STALL_SECONDS", "0"],
    ["KUBE_REF_MAX_LENGTH", "1.5"],
    ["KUBE_MAX_WATCH_LINE_BYTES", "1024"],
    ["KUBE_MAX_LIST_PAGE_BYTES", "lots"],
    ["KUBE_MAX_LIST_PAGES", "0"],
    ["KUBE_MAX_LIST_ITEMS", "1.5"],
  ])("rejects %s=%s, naming the setting", (name, value) => {
    const error = errorOf(() => loadConfig({ ...base, [name]: value }));
    expect(error.setting).toBe(name);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it("bound what the API server may send with generous defaults, each settable", () => {
    expect(loadConfig(base).kube.limits).toEqual({ maxWatchLineBytes: 8 * 1024 * 1024, maxListPageBytes: 64 * 1024 * 1024, maxListPages: 1000, maxListItems: 200_000 });
    const set = loadConfig({ ...base, KUBE_MAX_WATCH_LINE_BYTES: "65536", KUBE_MAX_LIST_PAGE_BYTES: "1048576", KUBE_MAX_LIST_PAGES: "3", KUBE_MAX_LIST_ITEMS: "10" }).kube.limits;
    expect(set).toEqual({ maxWatchLineBytes: 65536, maxListPageBytes: 1048576, maxListPages: 3, maxListItems: 10 });
  });

  it("wants the first retry pause no longer than the last", () => {
    expect(errorOf(() => loadConfig({ ...base, KUBE_RETRY_INITIAL_SECONDS: "10", KUBE_RETRY_MAX_SECONDS: "5" })).setting).toBe("KUBE_RETRY_INITIAL_SECONDS");
  });

  it("names KUBECONFIG when a kubeconfig file cannot be read, and loads a readable one", () => {
    expect(errorOf(() => loadKubeConfig(["/nonexistent/kubeconfig"])).setting).toBe("KUBECONFIG");
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
    const file = join(dir, "config");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: sim, cluster: {server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
        "users: [{name: sim, user: {token: t}}]",
        "contexts: [{name: sim, context: {cluster: sim, user: sim}}]",
        "current-context: sim",
      ].join("\n"),
    );
    expect(loadKubeConfig([file]).getCurrentCluster()?.server).toBe("http://127.0.0.1:1");
  });

  describe("a kubeconfig that could only fail on every request is refused at start, naming KUBECONFIG", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-checks-"));
    const kubeconfig = (name: string, cluster: string, user = "token: t") => {
      const file = join(dir, name);
      writeFileSync(
        file,
        ["apiVersion: v1", "kind: Config", `clusters: [{name: c, cluster: {${cluster}}}]`, `users: [{name: u, user: {${user}}}]`, "contexts: [{name: x, context: {cluster: c, user: u}}]", "current-context: x"].join("\n"),
      );
      return file;
    };

    it.each([
      ["no-url", "server: 'not a url'", undefined, 'expected an http(s) server URL for cluster "c", such as https://kubernetes.example.com:6443 (not "not a url")'],
      ["ftp", "server: 'ftp://127.0.0.1:1'", undefined, "expected an http(s) server URL"],
      ["plain-http", "server: 'http://127.0.0.1:1'", undefined, 'expected an https:// server for cluster "c", or insecure-skip-tls-verify: true for plain http://'],
      ["no-ca", "server: 'https://127.0.0.1:1', certificate-authority: /nonexistent/ca.crt", undefined, 'expected a readable certificate-authority file, "/nonexistent/ca.crt" (ENOENT)'],
      ["no-cert", "server: 'https://127.0.0.1:1'", "client-certificate: /nonexistent/c.crt, client-key: /nonexistent/c.key", 'expected a readable client-certificate file, "/nonexistent/c.crt" (ENOENT)'],
    ])("%s", (name, cluster, user, expected) => {
      const file = kubeconfig(name, cluster, user);
      const error = errorOf(() => loadKubeConfig([file]));
      expect(error.setting).toBe("KUBECONFIG");
      expect(error.message).toContain(`invalid configuration: KUBECONFIG=${JSON.stringify(file)}: ${expected}`);
    });

    it("a kubeconfig without a current cluster", () => {
      const file = join(dir, "empty");
      writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n");
      expect(errorOf(() => loadKubeConfig([file])).message).toBe(`invalid configuration: KUBECONFIG=${JSON.stringify(file)}: expected a kubeconfig whose current context names a cluster`);
    });

    it("but takes https with readable files, and plain http with insecure-skip-tls-verify", () => {
      const ca = join(dir, "ca.crt");
      writeFileSync(ca, "not checked here: the TLS handshake tells");
      expect(loadKubeConfig([kubeconfig("https", `server: 'https://127.0.0.1:1', certificate-authority: ${ca}`)]).getCurrentCluster()?.caFile).toBe(ca);
      expect(loadKubeConfig([kubeconfig("http", "server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true")]).getCurrentCluster()?.server).toBe("http://127.0.0.1:1");
    });
  });
});
