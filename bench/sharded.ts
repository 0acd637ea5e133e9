/**
 * `npm run bench -- --sharded`: three shards of the exporter (compiled, each in its own process,
 * run with --expose-gc) at three times the default preset's scale (3,000 projects, 6,000 live
 * jobs, 30,000 job pods on 1,500 nodes) against one simulated GitLab and cluster, then one
 * unsharded replica against the same worlds for comparison. Per replica: its share of the work,
 * its RSS after a full collection, its scrape latency against the floor (the same bytes from a
 * bare node:http server), and its GitLab request rate against its share of the budget.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGitLabSimulator, type GitLabWorld } from "../src/simulator/gitlab/index.js";
import { startKubeSimulator, type KubeWorld } from "../src/simulator/kube/index.js";
import { buildBenchCluster, buildBenchGitLab } from "./fleet.js";
import { agent, freePort, get, memory, percentile, Report, scanSum, scrapeLatencies, sleep } from "./lib.js";

const SCALE = { projects: 3000, active: 150, liveJobs: 6000, pods: 30_000, nodes: 1500, spotNodes: 900, scrapes: 100, windowS: 30 };
const SHARDS = 3;
/** The default preset's budget, for the fleet: each shard spends a third of it. */
const FLEET_REQUESTS_PER_SECOND = 300;
const TOKEN = "bench-token";
const root = new URL("../", import.meta.url).pathname;
const runtime = JSON.parse(readFileSync(new URL("../deploy/runtime.json", import.meta.url), "utf8")) as { nodeFlags: string[]; env: Record<string, string> };
const report = new Report("sharded", new URL("results/sharded.json", import.meta.url).pathname);

interface Replica {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}

function buildWorlds(): { world: GitLabWorld; cluster: KubeWorld } {
  const { world, projects } = buildBenchGitLab(SCALE);
  const { cluster, runnerPod } = buildBenchCluster(SCALE, projects);
  const started = new Date();
  for (let i = 0; i < SCALE.pods; i++) cluster.addPod(runnerPod(i, started));
  return { world, cluster };
}

function spawnReplica(name: string, port: number, env: Record<string, string>): Replica {
  const child = spawn(process.execPath, ["--expose-gc", ...runtime.nodeFlags, "dist/src/cli.js"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...runtime.env, ...env, LISTEN_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: "warn", SHUTDOWN_GRACE_SECONDS: "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return { name, url: `http://127.0.0.1:${port}`, child };
}

/** What the replicas export together: watched projects, live jobs, job pods, spot nodes. */
async function exportedScale(replicas: readonly Replica[]): Promise<{ projects: number; liveJobs: number; pods: number; spotNodes: number }> {
  const bodies = await Promise.all(replicas.map(async (r) => (await get(`${r.url}/metrics`)).body));
  const total = (family: string) => bodies.reduce((n, body) => n + scanSum(body, family), 0);
  return { projects: total("gitlab_ci_exporter_gitlab_projects"), liveJobs: total("gitlab_ci_jobs_pending") + total("gitlab_ci_jobs_running"), pods: total("gitlab_ci_job_pod_info"), spotNodes: total("gitlab_ci_spot_nodes") };
}

async function waitForScale(replicas: readonly Replica[]): Promise<number> {
  const started = Date.now();
  for (const replica of replicas) while ((await get(`${replica.url}/readyz`).catch(() => ({ status: 0 }))).status !== 200) await sleep(500);
  const expected = { projects: SCALE.projects, liveJobs: SCALE.liveJobs, pods: SCALE.pods, spotNodes: SCALE.spotNodes };
  for (let scale = await exportedScale(replicas); JSON.stringify(scale) !== JSON.stringify(expected); scale = await exportedScale(replicas)) {
    if (Date.now() - started > 900_000) throw new Error(`the replicas do not export the preset's scale: ${JSON.stringify(scale)}, preset ${JSON.stringify(expected)}`);
    await sleep(2000);
  }
  return (Date.now() - started) / 1000;
}

/** p50 of scrapes of the replica, and of the same bytes from a bare node:http server. */
async function scrapeAgainstFloor(replica: Replica): Promise<{ p50: number; floor: number; series: number; kib: number }> {
  const body = Buffer.from((await get(`${replica.url}/metrics`)).body);
  const p50 = percentile(await scrapeLatencies(`${replica.url}/metrics`, SCALE.scrapes, 1), 50);
  const floor = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": body.length });
    response.end(body);
  });
  await new Promise<void>((resolve) => floor.listen(0, "127.0.0.1", resolve));
  const floorP50 = percentile(await scrapeLatencies(`http://127.0.0.1:${(floor.address() as AddressInfo).port}/metrics`, SCALE.scrapes, 1), 50);
  floor.close();
  const series = body.toString("utf8").split("\n").filter((line) => line !== "" && !line.startsWith("#")).length;
  return { p50, floor: floorP50, series, kib: body.length / 1024 };
}

/** GitLab requests a second each replica made over the window. */
async function requestRates(replicas: readonly Replica[]): Promise<number[]> {
  const count = async (r: Replica) => scanSum((await get(`${r.url}/metrics`)).body, "gitlab_ci_exporter_gitlab_requests_total");
  const before = await Promise.all(replicas.map(count));
  const from = Date.now();
  await sleep(SCALE.windowS * 1000);
  const after = await Promise.all(replicas.map(count));
  const seconds = (Date.now() - from) / 1000;
  return replicas.map((_, i) => (after[i]! - before[i]!) / seconds);
}

/** Every figure of a set of replicas, recorded under `prefix<i>_`. */
async function measure(replicas: readonly Replica[], prefix: string, budget: number): Promise<void> {
  const syncSeconds = await waitForScale(replicas);
  report.record(`${prefix}sync_s`, `${prefix === "single_" ? "single replica" : `${replicas.length} shards`}: whole preset scale exported after`, syncSeconds, "s");
  const rates = await requestRates(replicas);
  for (const [i, replica] of replicas.entries()) {
    const name = prefix === "single_" ? "single" : `shard ${i}`;
    const scrape = await scrapeAgainstFloor(replica);
    const used = await memory(replica.child, replica.url);
    report.record(`${prefix}${i}_series`, `${name}: series exported`, scrape.series, "");
    report.record(`${prefix}${i}_body_kib`, `${name}: /metrics body`, scrape.kib, "KiB");
    report.record(`${prefix}${i}_rss_mib`, `${name}: RSS after a full collection`, used.rss, "MiB");
    report.record(`${prefix}${i}_heap_mib`, `${name}: heap used`, used.heap, "MiB");
    report.record(`${prefix}${i}_scrape_p50_ms`, `${name}: /metrics p50`, scrape.p50, "ms");
    report.record(`${prefix}${i}_scrape_vs_floor`, `${name}: scrape p50 / floor p50`, scrape.p50 / scrape.floor, "x", { limit: 1.5, better: "lower", text: "≤ 1.5x" });
    report.record(`${prefix}${i}_gitlab_rps`, `${name}: GitLab requests a second (budget ${budget.toFixed(0)})`, rates[i]!, "/s", { limit: budget, better: "lower", text: `≤ ${budget.toFixed(0)}/s` });
  }
  report.record(`${prefix}gitlab_rps_total`, `${prefix === "single_" ? "single replica" : "all shards"}: GitLab requests a second`, rates.reduce((a, b) => a + b, 0), "/s", { limit: FLEET_REQUESTS_PER_SECOND, better: "lower", text: `≤ ${FLEET_REQUESTS_PER_SECOND}/s` });
}

export async function runSharded(): Promise<void> {
  const started = Date.now();
  console.log("building the exporter (tsc)…");
  if (spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" }).status !== 0) throw new Error("build failed");
  const { world, cluster } = buildWorlds();
  const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000, projectJobsRateLimitPerMinute: false, maxLoggedRequests: 10_000 });
  const kube = await startKubeSimulator({ world: cluster });
  const kubeconfig = join(mkdtempSync(join(tmpdir(), "bench-sharded-")), "kubeconfig");
  writeFileSync(kubeconfig, kube.kubeconfig());
  const common = { GITLAB_URL: gitlab.url, GITLAB_TOKEN: TOKEN, GITLAB_GROUPS: "fleet", GITLAB_POLL_INTERVAL_SECONDS: "1", GITLAB_MAX_REQUESTS_PER_SECOND: String(FLEET_REQUESTS_PER_SECOND), GITLAB_IDLE_REQUESTS_PER_SECOND: "5", GITLAB_MAX_CONCURRENT_REQUESTS: "8", KUBECONFIG: kubeconfig, MAX_SERIES_PER_FAMILY: "500000" };
  const replicas: Replica[] = [];
  try {
    const ports = await Promise.all(Array.from({ length: SHARDS }, () => freePort()));
    const peers = ports.map((port) => `http://127.0.0.1:${port}`).join(",");
    console.log(`${SHARDS} shards at ${SCALE.projects} projects, ${SCALE.liveJobs} live jobs, ${SCALE.pods} job pods on ${SCALE.nodes} nodes…`);
    for (const [ordinal, port] of ports.entries()) {
      replicas.push(spawnReplica(`exporter-${ordinal}`, port, { ...common, SHARD: "auto", TOTAL_SHARDS: String(SHARDS), POD_NAME: `exporter-${ordinal}`, POD_NAMESPACE: "bench", SHARD_PEERS: peers }));
    }
    await measure(replicas, "shards_", FLEET_REQUESTS_PER_SECOND / SHARDS);
    for (const replica of replicas.splice(0)) replica.child.kill("SIGTERM");
    await sleep(3000);
    console.log("one unsharded replica against the same worlds…");
    replicas.push(spawnReplica("single", await freePort(), common));
    await measure(replicas, "single_", FLEET_REQUESTS_PER_SECOND);
    report.record("duration_s", "benchmark duration", (Date.now() - started) / 1000, "s");
    report.printTable();
    mkdirSync(`${root}bench/results`, { recursive: true });
    writeFileSync(`${root}bench/results/sharded.json`, `${JSON.stringify(report.json, null, 2)}\n`);
    console.log("\nfigures written to bench/results/sharded.json");
  } finally {
    for (const replica of replicas) replica.child.kill("SIGTERM");
    await Promise.all([gitlab.close(), kube.close()]);
    agent.destroy();
  }
}
