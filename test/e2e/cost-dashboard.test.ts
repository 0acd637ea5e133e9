import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateMixin, mixinFiles } from "../../mixin/render.js";
import { GitLabWorld, type SimRunner } from "../../src/simulator/gitlab/index.js";
import { buildOnDemandNode, buildRunnerJobPod, buildSpotNode, KubeWorld, podCreating, podRunning, podTerminated, simulatedPricesYaml, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { eventually } from "../helpers/prom.js";
import { query, startPrometheus, type Daemon } from "../helpers/prometheus.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

/**
 * The CI cost dashboard end to end: the exporter with a price table on the simulated GitLab and
 * cluster (spot and on-demand nodes of priced instance types, one of a type the table lacks), a
 * real Prometheus loading the rules rendered from mixin/ (the cost window shortened through
 * _config), and every query of the dashboard run against it as Grafana would, variables filled in:
 * each must return data.
 */
const OVERRIDES = { costWindow: "20s" };
const RANGE = "20s";
const RATE_INTERVAL = "5s";
const HOUR = 3_600_000;
const RUNNER: SimRunner = { id: 7, description: "eks-spot-runner" };

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

let stack: Stack;
let kube: KubeSimulator;
let prometheus: Daemon;
let dir: string;
let trickle: NodeJS.Timeout;
const kubeWorld = new KubeWorld();
const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
world.addGroup("acme");
const api = world.addProject("acme/api");
world.addProject("acme/web");

function pod(project: string, jobId: number, node: string, ref: string, jobName: string, boundAtMs: number, pipelineId: number): V1Pod {
  const p = buildRunnerJobPod({ projectId: api.id, projectPath: project, jobId, jobName, ref, requests: { cpu: "2", memory: "4Gi" }, extraAnnotations: { "ci.example.com/pipeline-id": String(pipelineId) } });
  podCreating(p, node, new Date(boundAtMs));
  podRunning(p, new Date(boundAtMs + 5000));
  return p;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "e2e-cost-"));
  await writeFile(path.join(dir, "prices.yaml"), simulatedPricesYaml());
  const created = new Date(Date.now() - 4 * HOUR);
  kubeWorld.addNode(buildSpotNode({ name: "spot-1", instanceType: "c5a.2xlarge", nodegroup: "ci-spot", createdAt: created }));
  kubeWorld.addNode(buildOnDemandNode({ name: "od-1", instanceType: "m6i.xlarge", nodegroup: "ci-ondemand", createdAt: created }));
  kubeWorld.addNode(buildSpotNode({ name: "odd-1", instanceType: "x9.huge", nodegroup: "ci-odd", createdAt: created, allocatable: { cpu: "16", memory: "64Gi" } }));
  kube = await startKubeSimulator({ world: kubeWorld });
  await writeFile(path.join(dir, "kubeconfig"), kube.kubeconfig());
  stack = await startStack({ world, kubeconfig: path.join(dir, "kubeconfig"), env: { GITLAB_GROUPS: "acme", KUBE_NODE_PRICES_FILE: path.join(dir, "prices.yaml"), KUBE_PIPELINE_ID_KEYS: "ci.example.com/pipeline-id" } });
  await waitReady(stack);

  // Jobs on both capacity types, one finished an hour ago, and one on a node the table does not price.
  const now = Date.now();
  const finished = pod("acme/web", 11, "od-1", "main", "lint", now - 2 * HOUR, 500);
  podTerminated(finished, { finishedAt: new Date(now - HOUR), exitCode: 0 });
  for (const p of [pod("acme/api", 12, "spot-1", "main", "build", now - HOUR, 501), pod("acme/api", 13, "spot-1", "feature/x", "test", now - 30 * 60_000, 502), pod("acme/web", 14, "od-1", "main", "e2e", now - HOUR, 500), pod("acme/web", 15, "odd-1", "main", "e2e", now, 500), finished]) {
    kubeWorld.addPod(p);
  }
  // Jobs succeed all along on the GitLab side, each in a pipeline of its own that succeeds with it.
  trickle = setInterval(() => {
    const job = world.createJob(api.id, { name: "unit", status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
  }, 500);

  const rules = new Map([...mixinFiles(await evaluateMixin(OVERRIDES))].filter(([name]) => name.startsWith("rules/")));
  prometheus = await startPrometheus({ ruleFiles: rules, alertmanagerUrl: "http://127.0.0.1:9", targets: [{ job: "gitlab-ci-k8s-exporter", url: `${stack.exporter.url}/metrics` }] });
}, 60_000);

afterAll(async () => {
  clearInterval(trickle);
  await prometheus?.stop();
  await stack?.close();
  await kube?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the CI cost dashboard with a real Prometheus", () => {
  it("loads the cost recording rules, and every query of the dashboard returns data", async () => {
    const mixin = await evaluateMixin(OVERRIDES);
    const dashboard = mixin.dashboards["gitlab-ci-cost.json"] as unknown as { panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: unknown }> } };
    const fill = (expr: string) => expr.replaceAll("$__rate_interval", RATE_INTERVAL).replaceAll("$__range", RANGE).replace(/\$\w+/g, ".*");
    const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: fill(t.expr) })));
    expect(targets.length).toBeGreaterThan(15);
    const variables = dashboard.templating.list.filter((v) => v.type === "query").map((v) => /^label_values\((.*), (\w+)\)$/.exec((v.query as { query: string }).query)!);

    const empty = await eventually(
      async () => {
        const missing: string[] = [];
        for (const { where, expr } of targets) if ((await query(prometheus, expr)).length === 0) missing.push(where);
        for (const [, selector, label] of variables) if (!(await query(prometheus, fill(selector!))).some((r) => r.metric[label!] !== undefined)) missing.push(`$${label}`);
        if (missing.length > 0) throw new Error(`no data yet: ${missing.join(", ")}`);
        return missing;
      },
      90_000,
      1000,
    );
    expect(empty).toEqual([]);

    // The numbers behind them are the exporter's: spend by capacity type, the unpriced node named.
    const spend = await query(prometheus, 'sum by (capacity_type) (gitlab_ci_job_cost_total{job="gitlab-ci-k8s-exporter"})');
    expect(spend.map((r) => r.metric.capacity_type).sort()).toEqual(["on_demand", "spot"]);
    const unpriced = await query(prometheus, 'gitlab_ci_nodes_unpriced{job="gitlab-ci-k8s-exporter"}');
    expect(unpriced.map((r) => [r.metric.instance_type, r.value[1]])).toEqual([["x9.huge", "1"]]);
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; rules: Array<{ health: string }> }> } };
    const cost = rules.data.groups.find((g) => g.name === "gitlab-ci-cost.rules")!;
    expect(cost.rules.map((r) => r.health)).toEqual(Array(cost.rules.length).fill("ok"));
  }, 150_000);
});
