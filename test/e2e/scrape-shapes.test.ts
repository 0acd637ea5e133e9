import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateMixin, mixinFiles, type RenderedMixin } from "../../mixin/render.js";
import { GitLabWorld, type SimRunner } from "../../src/simulator/gitlab/index.js";
import {
  addDisruptionTarget,
  buildRunnerJobPod,
  buildSpotNode,
  ClusterCapacity,
  KubeWorld,
  NODE_TAINTS,
  nodePool,
  podRunning,
  podTerminated,
  RealTimeline,
  simulatedPricesYaml,
  startKubeSimulator,
  taintNode,
  type KubeSimulator,
} from "../../src/simulator/kube/index.js";
import { startKubeExporters, type KubeExporters } from "../helpers/kube-exporters.js";
import { eventually } from "../helpers/prom.js";
import { labelNamesOf, labelValues, query, queryRange, startPrometheus, type Daemon } from "../helpers/prometheus.js";
import { SCRAPE_SHAPES, type ScrapeShape } from "../helpers/scrape-shapes.js";
import { startStack, waitReady, WEBHOOK_SECRET, type Stack } from "../helpers/stack.js";
import { metricNames } from "../mixin/promql-names.js";

/**
 * The mixin against the scrapes of the common monitoring stacks: the exporter on the simulated
 * GitLab and cluster, fake cAdvisor and kube-state-metrics serving the same cluster in their real
 * names and labels, and one real Prometheus per stack, each scraping all three as that stack
 * labels them (test/helpers/scrape-shapes.ts) and loading the rules rendered with the stack's
 * `_config`. A quiet start, then a day's incidents pressed into seconds; then every recording
 * rule, every panel query and every variable of every dashboard must return something: the
 * fixture feeds each of them.
 */
const WINDOWS = { failureRatioWindow: "30s", interruptedJobsWindow: "1m", cadvisorRateWindow: "10s", jobPodsWaitingFor: "5s", pendingJobsFor: "5s", systemFailureFor: "3s" };
/** What Grafana would give $__rate_interval here: four 1 s scrape intervals, and some room. */
const RATE_INTERVAL = "10s";
const RUNNER: SimRunner = { id: 7, description: "eks-spot-runner" };
const POOL = "ci-spot";
const OLD_NODE = "ip-10-0-1-11.us-west-2.compute.internal";
const RESOURCES = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } };

interface Shaped {
  readonly shape: ScrapeShape;
  readonly mixin: RenderedMixin;
  readonly prometheus: Daemon;
}

interface Target {
  readonly expr: string;
  readonly instant?: boolean;
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly type: string; readonly query?: { readonly query: string } }> };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => Math.floor(ms / 1000);

let stack: Stack;
let kube: KubeSimulator;
let exporters: KubeExporters;
let kubeconfigDir: string;
let trickle: NodeJS.Timeout;
let shaped: Shaped[] = [];
/** When the Prometheus servers started, when all was quiet, and when the incidents were over. */
const at = { startMs: 0, quietMs: 0, endMs: 0 };
const kubeWorld = new KubeWorld();
const timeline = new RealTimeline();
const capacity = new ClusterCapacity({
  kube: kubeWorld,
  timeline,
  pools: [nodePool({ name: POOL, capacityType: "spot", podsPerNode: 4, zones: ["us-west-2b"] })],
  timing: { scheduleMs: 100, provisionMs: 600, nodeReadyMs: 400, warmStartMs: 200, coldPullMs: 400, pullRetryMs: 300 },
});
const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
world.addGroup("acme");
const api = world.addProject("acme/api");
const web = world.addProject("acme/web");

/** A running job of acme/api whose pod the runner asked the cluster for; the pod's name. */
function launchJob(name: string): { jobId: number; pod: string } {
  const job = world.createJob(api.id, { name, ref: "main", tags: ["docker", "spot"], status: "pending" });
  world.start(job.id, RUNNER);
  const pod = capacity.launch({ projectId: api.id, projectPath: "acme/api", gitlabUrl: world.baseUrl, jobId: job.id, jobName: name, ref: "main", runnerName: RUNNER.description, ...RESOURCES }, { pool: POOL });
  return { jobId: job.id, pod };
}

/** A Kaniko build in a CI job pod on the old node, ended with `exitCode`, the pod then deleted. */
async function build(jobName: string, exitCode: number): Promise<void> {
  const job = world.createJob(api.id, { name: jobName, ref: "main", tags: ["kaniko"], status: "pending" });
  world.start(job.id, RUNNER);
  const pod = buildRunnerJobPod({ projectId: api.id, projectPath: "acme/api", gitlabUrl: world.baseUrl, jobId: job.id, jobName, ref: "main", nodeName: OLD_NODE, buildImage: "gcr.io/kaniko-project/executor:v1.23.2", suffix: `kaniko-${job.id}`, ...RESOURCES });
  const startedAt = new Date(Date.now() - 90_000);
  podRunning(pod, startedAt);
  const { namespace, name } = kubeWorld.addPod(pod).metadata as { namespace: string; name: string };
  await sleep(1500);
  kubeWorld.updatePod(namespace, name, (p) => podTerminated(p, { finishedAt: new Date(), exitCode, containers: ["build"] }));
  world.finish(job.id, exitCode === 0 ? "success" : "failed", exitCode === 0 ? undefined : "script_failure");
  await sleep(1500);
  kubeWorld.deletePod(namespace, name);
}

/** The old spot node gets its interruption notice: its job pods are evicted, their jobs fail as runner system failures, the node goes. */
function reclaimOldNode(jobs: ReadonlyArray<{ jobId: number; pod: string }>): void {
  kubeWorld.updateNode(OLD_NODE, (node) => taintNode(node, NODE_TAINTS.spotInterruption));
  for (const pod of kubeWorld.pods().filter((p: V1Pod) => p.spec?.nodeName === OLD_NODE)) {
    const { namespace, name } = pod.metadata as { namespace: string; name: string };
    kubeWorld.updatePod(namespace, name, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
    kubeWorld.deletePod(namespace, name);
    const job = jobs.find((j) => j.pod === name);
    if (job) world.finish(job.jobId, "failed", "runner_system_failure");
  }
  kubeWorld.deleteNode(OLD_NODE);
}

beforeAll(async () => {
  kubeWorld.addNode(buildSpotNode({ name: OLD_NODE, nodegroup: POOL, zone: "us-west-2b", instanceType: "m6i.2xlarge", createdAt: new Date(Date.now() - 3_600_000) }));
  kube = await startKubeSimulator({ world: kubeWorld });
  kubeconfigDir = await mkdtemp(path.join(tmpdir(), "e2e-shapes-"));
  const kubeconfig = path.join(kubeconfigDir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  // Every simulated instance type priced, so the CI cost dashboard reads the same scrapes.
  const prices = path.join(kubeconfigDir, "prices.yaml");
  await writeFile(prices, simulatedPricesYaml());
  // The default: no requests and limits of our own, kube-state-metrics has them.
  stack = await startStack({ world, kubeconfig, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET, KUBE_NODE_PRICES_FILE: prices } });
  await waitReady(stack);
  stack.webhooks();
  exporters = await startKubeExporters(kubeWorld);
  const urls = { exporter: `${stack.exporter.url}/metrics`, cadvisor: `${exporters.cadvisor.url}/metrics/cadvisor`, kubeStateMetrics: `${exporters.kubeStateMetrics.url}/metrics` };

  shaped = await Promise.all(
    SCRAPE_SHAPES.map(async (shape) => {
      const mixin = await evaluateMixin({ ...WINDOWS, ...shape.overrides });
      const rules = new Map([...mixinFiles(mixin)].filter(([name]) => name.startsWith("rules/")));
      return { shape, mixin, prometheus: await startPrometheus({ ruleFiles: rules, targets: shape.targets(urls) }) };
    }),
  );
  // The test's time range starts once every Prometheus has scraped all three.
  for (const { prometheus } of shaped) await eventually(async () => expect((await query(prometheus, "up == 1")).length).toBe(3), 15_000, 200);
  at.startMs = Date.now();

  // A quiet start: jobs finish (each in a pipeline of its own, which succeeds with it), a few wait
  // for a runner no one runs, three run on the old spot node.
  trickle = setInterval(() => {
    const job = world.createJob(web.id, { name: "unit", status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
  }, 400);
  for (let i = 0; i < 3; i++) world.createJob(api.id, { name: `deploy-${i}`, tags: ["docker", "arm64"], status: "pending" });
  const onOldNode = [launchJob("test-1"), launchJob("test-2"), launchJob("test-3")];
  await eventually(() => expect(capacity.waiting()).toEqual([]), 10_000, 100);
  await sleep(8000);
  at.quietMs = Date.now();

  // The incidents: a script failure, builds that pass and fail, a pool with no capacity (its pods
  // wait, then start on a new node), the old node reclaimed with its jobs.
  const failing = world.createJob(api.id, { name: "lint", status: "pending" });
  world.start(failing.id, RUNNER);
  world.finish(failing.id, "failed", "script_failure");
  await build("image", 0);
  await build("image-arm", 1);
  capacity.withhold(POOL);
  const waiting = [launchJob("integration-1"), launchJob("integration-2"), launchJob("integration-3")];
  await eventually(() => expect(capacity.waiting().filter((w) => w.reason === "unschedulable").length).toBeGreaterThan(0), 10_000, 100);
  await sleep(4000);
  capacity.restore(POOL);
  await eventually(() => expect(capacity.waiting()).toEqual([]), 15_000, 100);
  reclaimOldNode([...onOldNode, ...waiting]);
  await sleep(8000);
  at.endMs = Date.now();
}, 180_000);

afterAll(async () => {
  clearInterval(trickle);
  timeline.dispose();
  capacity.dispose();
  await Promise.allSettled(shaped.map((s) => s.prometheus.stop()));
  await stack?.close();
  await kube?.close();
  await exporters?.close();
  if (kubeconfigDir) await rm(kubeconfigDir, { recursive: true, force: true });
});

/** A dashboard query with Grafana's variables filled in: every selectable value, and the ranges of the test. */
function filled(expr: string, rangeSeconds: number): string {
  return expr
    .replaceAll("$__rate_interval", RATE_INTERVAL)
    .replaceAll("$__range", `${rangeSeconds}s`)
    .replace(/\$\w+/g, ".*");
}

const dashboardsOf = (mixin: RenderedMixin) => Object.values(mixin.dashboards) as unknown as Dashboard[];
const panelsOf = (d: Dashboard) => d.panels.filter((p) => p.type !== "row");

/**
 * Whether the panel target returns anything: a table's instant query at the end, any other's
 * range over the test. `$__range` stops two seconds short of the test's start, when the exporter
 * was already up: the mixin's counter reads take a series born in the window by its value only
 * where the exporter was up at the window's start (mixin/lib/counters.libsonnet).
 */
async function answers(prometheus: Daemon, target: Target, fromMs: number, toMs: number): Promise<boolean> {
  const expr = filled(target.expr, seconds(toMs - fromMs) - 2);
  if (target.instant) return (await query(prometheus, expr, seconds(toMs))).length > 0;
  return (await queryRange(prometheus, expr, seconds(fromMs), seconds(toMs))).some((series) => series.values.length > 0);
}

describe.each(SCRAPE_SHAPES.map((shape) => [shape.name, shape] as const))("the mixin on %s", (_name, shape) => {
  const mine = () => shaped.find((s) => s.shape === shape)!;

  it("has every recording rule record something", async () => {
    const { mixin, prometheus } = mine();
    const empty: string[] = [];
    for (const rule of mixin.rules.groups.flatMap((g) => g.rules)) {
      const name = String(rule.record);
      if ((await queryRange(prometheus, name, seconds(at.startMs), seconds(at.endMs))).length === 0) empty.push(name);
    }
    expect(empty).toEqual([]);
  });

  it("has every panel query of every dashboard return something", async () => {
    const { mixin, prometheus } = mine();
    const empty: string[] = [];
    for (const d of dashboardsOf(mixin)) {
      for (const p of panelsOf(d)) {
        for (const target of p.targets ?? []) if (!(await answers(prometheus, target, at.startMs, at.endMs))) empty.push(`${d.title} / ${p.title}: ${target.expr}`);
      }
    }
    expect(empty).toEqual([]);
  });

  it("has every dashboard variable offer values", async () => {
    const { mixin, prometheus } = mine();
    const empty: string[] = [];
    for (const d of dashboardsOf(mixin)) {
      for (const variable of d.templating.list.filter((v) => v.type === "query")) {
        const match = /^label_values\((.*), (\w+)\)$/s.exec(variable.query!.query)!;
        const values = await labelValues(prometheus, match[2]!, filled(match[1]!, 0), seconds(at.startMs), seconds(at.endMs));
        if (values.length === 0) empty.push(`${d.title} / $${variable.name}: ${variable.query!.query}`);
      }
    }
    expect(empty).toEqual([]);
  });

  it("shows healthy stats as values, not as no data: a quiet deployment reads 0 where nothing went wrong", async () => {
    const { mixin, prometheus } = mine();
    const empty: string[] = [];
    for (const d of dashboardsOf(mixin)) {
      for (const p of panelsOf(d).filter((x) => x.type === "stat")) {
        // Quantiles of nothing have no value: no builds, no removals yet.
        for (const target of (p.targets ?? []).filter((t) => !t.expr.includes("histogram_quantile"))) {
          if ((await query(prometheus, filled(target.expr, seconds(at.quietMs - at.startMs) - 2), seconds(at.quietMs))).length === 0) empty.push(`${d.title} / ${p.title}`);
        }
      }
    }
    expect(empty).toEqual([]);
    const dropped = dashboardsOf(mixin).flatMap((d) => panelsOf(d)).find((p) => p.title.startsWith("Samples dropped"))!;
    const values = (await query(prometheus, filled(dropped.targets![0]!.expr, 60), seconds(at.quietMs))).map((r) => r.value[1]);
    expect(values.length).toBeGreaterThan(0);
    expect(new Set(values)).toEqual(new Set(["0"]));
  });

  it("filters every panel by each variable whose label the series it reads carry", async () => {
    const { mixin, prometheus } = mine();
    const labelsOf = new Map<string, Set<string>>();
    const unfiltered: string[] = [];
    for (const d of dashboardsOf(mixin)) {
      const variables = d.templating.list.filter((v) => v.type === "query").map((v) => v.name);
      for (const p of panelsOf(d)) {
        for (const target of p.targets ?? []) {
          for (const metric of metricNames(target.expr)) {
            if (!labelsOf.has(metric)) labelsOf.set(metric, await labelNamesOf(prometheus, metric, seconds(at.startMs), seconds(at.endMs)));
            for (const variable of variables) {
              if (labelsOf.get(metric)!.has(variable) && !target.expr.includes(`$${variable}`)) unfiltered.push(`${d.title} / ${p.title}: ${metric} has ${variable}`);
            }
          }
        }
      }
    }
    expect([...new Set(unfiltered)]).toEqual([]);
  });
});
