/**
 * `npm run bench [-- --quick | --sharded]`: the exporter (compiled, in its own process, run with
 * --expose-gc) against the simulator at fleet scale, over real HTTP. Prints a table and writes
 * the same figures as JSON to bench/results/.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebhookSender, startGitLabSimulator, type DeliveryAttempt, type SimJob } from "../src/simulator/gitlab/index.js";
import { simulatedPricesYaml, startKubeSimulator } from "../src/simulator/kube/index.js";
import { BENCH_RUNNER, BENCH_TAG_SETS, buildBenchCluster, buildBenchGitLab } from "./fleet.js";
import { parseMetrics, sum } from "../src/lib/prom-text.js";
import { agent, deliveryRate, exporterSamples, familySum, freePort, get, memory, percentile, processCpu, Report, scanDistinct, scanSum, scrapeLatencies, sleep } from "./lib.js";
import { COST_FAMILIES } from "../src/metrics/families/cost.js";
import { costFootprint } from "./cost-footprint.js";
import { WebhookChurn } from "./webhook-churn.js";

const quick = process.argv.includes("--quick");
/**
 * `--prices`: the exporter runs with a price table, its cost families in the scrape. By default it
 * runs in its default configuration (no cost counting), which the targets are about; what the cost
 * state adds is measured in process either way (bench/cost-footprint.ts).
 */
const priced = process.argv.includes("--prices");
/** The families of what CI costs, by name. */
const COST_FAMILY_NAMES = new Set(COST_FAMILIES.map((family) => family.name));
const SCALE = quick
  ? { projects: 200, active: 10, liveJobs: 400, soakJobs: 50_000, webhookRate: 50, scrapes: 100, latencySamples: 50, cycleWindowS: 10, pods: 1000, nodes: 50, spotNodes: 30, podChurn: 10_000 }
  : { projects: 1000, active: 50, liveJobs: 2000, soakJobs: 1_000_000, webhookRate: 100, scrapes: 300, latencySamples: 200, cycleWindowS: 30, pods: 10_000, nodes: 500, spotNodes: 300, podChurn: 100_000 };
const POLL_INTERVAL_S = 1;
const TOKEN = "bench-token";
const SECRET = "bench-webhook-secret";
const root = new URL("../", import.meta.url).pathname;
/** Node flags and environment the container image runs the exporter with; the Dockerfile is tested against it. */
const runtime = JSON.parse(readFileSync(new URL("../deploy/runtime.json", import.meta.url), "utf8")) as { nodeFlags: string[]; env: Record<string, string> };

const resultsFile = new URL(`results/${quick ? "quick" : "default"}${priced ? "-priced" : ""}.json`, import.meta.url).pathname;
const report = new Report(quick ? "quick" : "default", resultsFile);
const json = report.json;
const record = report.record.bind(report);

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`building the exporter (tsc)…`);
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) throw new Error("build failed");

  // The fleet: configured projects under a few groups, the active ones with live jobs.
  const { world, projects, active } = buildBenchGitLab(SCALE);
  const runner = BENCH_RUNNER;
  const tagSets = BENCH_TAG_SETS;
  // The benchmark measures the exporter, not GitLab's quotas: both are lifted.
  const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000, projectJobsRateLimitPerMinute: false, maxLoggedRequests: 10_000 });

  // The cluster: nodes (most of them spot) and live runner job pods spread over them.
  const { cluster, runnerPod } = buildBenchCluster(SCALE, projects);
  let podSerial = 0;
  for (; podSerial < SCALE.pods; podSerial++) cluster.addPod(runnerPod(podSerial, new Date()));
  const kube = await startKubeSimulator({ world: cluster });
  const kubeconfig = join(mkdtempSync(join(tmpdir(), "bench-")), "kubeconfig");
  writeFileSync(kubeconfig, kube.kubeconfig());
  // With --prices, every node priced, so the cost families hold what they would in production.
  const prices = kubeconfig.replace(/kubeconfig$/, "prices.yaml");
  writeFileSync(prices, simulatedPricesYaml());

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--expose-gc", ...runtime.nodeFlags, ...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean), "dist/src/cli.js"], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      // The container image's runtime settings (deploy/runtime.json); MALLOC_* from the caller's environment to compare others.
      ...runtime.env,
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith("MALLOC_"))),
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN: TOKEN,
      GITLAB_GROUPS: "fleet",
      GITLAB_WEBHOOK_SECRET: SECRET,
      GITLAB_POLL_INTERVAL_SECONDS: String(POLL_INTERVAL_S),
      GITLAB_MAX_REQUESTS_PER_SECOND: "300",
      GITLAB_IDLE_REQUESTS_PER_SECOND: "5",
      GITLAB_MAX_CONCURRENT_REQUESTS: "8",
      KUBECONFIG: kubeconfig,
      ...(priced ? { KUBE_NODE_PRICES_FILE: prices } : {}),
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      LOG_LEVEL: "warn",
      // The benchmark ends the process when it is done: no Service to leave.
      SHUTDOWN_GRACE_SECONDS: "0",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  try {
    console.log(`waiting for the initial sync of ${SCALE.projects} projects…`);
    while ((await get(`${url}/readyz`).catch(() => ({ status: 0 }))).status !== 200) await sleep(200);
    while (sum(await exporterSamples(url), "gitlab_ci_jobs_pending") + sum(await exporterSamples(url), "gitlab_ci_jobs_running") < SCALE.liveJobs) await sleep(200);
    while (sum(await exporterSamples(url), "gitlab_ci_job_pod_info") < SCALE.pods) await sleep(200);

    // Webhooks at the configured rate until the soak: live jobs moving through their lifecycle.
    // Up to 8 deliveries in flight, as GitLab's Sidekiq workers send them side by side (those
    // about one job still in order): while a scrape holds the exporter, they wait side by side
    // rather than one behind another.
    // The event-to-metric probe's deliveries, by job id, to time them apart from the scrape that shows them.
    const probeAttempts = new Map<number, DeliveryAttempt>();
    const webhooks = new WebhookSender(world, { concurrency: 8, onAttempt: (attempt) => probeAttempts.has(attempt.key) && probeAttempts.set(attempt.key, attempt) });
    webhooks.addHook({ url: `${url}/webhooks/gitlab`, token: SECRET, events: { job: true } });
    const churn = new WebhookChurn(world, webhooks, active.map((p) => p.id), runner, SCALE.webhookRate);
    churn.start();
    await sleep(3000);

    // Scale reached, as the exporter exports it: the churn's jobs drained, so its live jobs are
    // the preset's; the run stops when a figure differs from the preset.
    await churn.drain();
    const expected = { watched: SCALE.projects, hot: SCALE.active, liveJobs: SCALE.liveJobs, pods: SCALE.pods, nodes: SCALE.nodes, spotNodes: SCALE.spotNodes };
    const exported = (text: string): typeof expected => ({
      watched: scanSum(text, "gitlab_ci_exporter_gitlab_projects"),
      hot: scanSum(text, "gitlab_ci_exporter_gitlab_projects", { state: "hot" }),
      liveJobs: scanSum(text, "gitlab_ci_jobs_pending") + scanSum(text, "gitlab_ci_jobs_running"),
      pods: scanSum(text, "gitlab_ci_job_pod_info"),
      // Every node holds job pods here; the exporter exports only spot nodes as such.
      nodes: scanDistinct(text, "gitlab_ci_job_pod_info", "node"),
      spotNodes: scanSum(text, "gitlab_ci_spot_nodes"),
    });
    const differences = (scale: typeof expected) => (Object.keys(expected) as Array<keyof typeof expected>).filter((key) => scale[key] !== expected[key]);
    let body = (await get(`${url}/metrics`)).body;
    let scale = exported(body);
    for (const deadline = Date.now() + 10_000; differences(scale).length > 0 && Date.now() < deadline; scale = exported(body)) {
      await sleep(200);
      body = (await get(`${url}/metrics`)).body;
    }
    const wrong = differences(scale);
    if (wrong.length > 0) throw new Error(`the exporter does not export the preset's scale: ${wrong.map((key) => `${key} ${scale[key]}, preset ${expected[key]}`).join("; ")}`);
    churn.resume();
    const webhooksStarted = churn.delivered();
    const series = parseMetrics(body).length;
    record("configured_projects", "watched projects (gitlab_ci_exporter_gitlab_projects)", scale.watched, "");
    record("active_projects", "  of them hot (state=\"hot\")", scale.hot, "");
    record("live_jobs", "live GitLab jobs (gitlab_ci_jobs_pending + _running)", scale.liveJobs, "");
    record("job_pods", "live CI job pods (gitlab_ci_job_pod_info series)", scale.pods, "");
    record("nodes", "nodes holding job pods (spot: gitlab_ci_spot_nodes)", scale.nodes, ` (${scale.spotNodes})`);
    json.spot_nodes = scale.spotNodes;
    record("series", "series exported", series, "");
    const costSeries = parseMetrics(body).filter((sample) => COST_FAMILY_NAMES.has(sample.name)).length;
    record("cost_series", `  of them the cost families (${priced ? "with a price table" : "none without a price table: --prices"})`, costSeries, "");
    // The default configuration exports no cost families: its series per job pod (target: at most 1.2).
    record("series_per_pod_default", "series per job pod without them (the default configuration)", (series - costSeries) / scale.pods, "", { limit: 1.2, better: "lower", text: "≤ 1.2" });
    record("body_kib", "/metrics body size", Buffer.byteLength(body) / 1024, "KiB");

    // Scrape cost, and the floor: the same bytes from a bare node:http server.
    // CPU per scrape: the process metrics are refreshed at most once a second, so every reading
    // waits past that, and the background polling's CPU over the same time is subtracted.
    const cpuNow = async () => {
      await sleep(1100);
      return { cpu: sum(await exporterSamples(url), "process_cpu_seconds_total"), at: performance.now() };
    };
    const idleStart = await cpuNow();
    const idleEnd = await cpuNow();
    const backgroundPerMs = (idleEnd.cpu - idleStart.cpu) / (idleEnd.at - idleStart.at);
    const scrapesStarted = churn.delivered();
    const cpuBefore = await cpuNow();
    const single = await scrapeLatencies(`${url}/metrics`, SCALE.scrapes, 1);
    const cpuAfter = await cpuNow();
    const scrapeCpuMs = ((cpuAfter.cpu - cpuBefore.cpu - backgroundPerMs * (cpuAfter.at - cpuBefore.at)) * 1000) / SCALE.scrapes;
    const concurrent = await scrapeLatencies(`${url}/metrics`, SCALE.scrapes, 4);
    const floorBody = Buffer.from(body);
    const floor = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": floorBody.length });
      response.end(floorBody);
    });
    await new Promise<void>((resolve) => floor.listen(0, "127.0.0.1", resolve));
    const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}/metrics`;
    const floorLatencies = await scrapeLatencies(floorUrl, SCALE.scrapes, 1);
    floor.close();
    const scrapesEnded = churn.delivered();
    const p50 = percentile(single, 50);
    const floorP50 = percentile(floorLatencies, 50);
    record("scrape_p50_ms", "/metrics p50, 1 scraper", p50, "ms");
    record("scrape_p99_ms", "/metrics p99, 1 scraper", percentile(single, 99), "ms");
    record("scrape_p50_4_ms", "/metrics p50, 4 concurrent scrapers", percentile(concurrent, 50), "ms");
    record("scrape_p99_4_ms", "/metrics p99, 4 concurrent scrapers", percentile(concurrent, 99), "ms");
    record("scrape_cpu_ms", "CPU time per scrape (background polling subtracted)", Math.max(0, scrapeCpuMs), "ms");
    record("floor_p50_ms", "floor p50 (pre-rendered buffer, bare node:http)", floorP50, "ms");
    record("scrape_vs_floor", "scrape p50 / floor p50", p50 / floorP50, "x", { limit: 1.2, better: "lower", text: "≤ 1.2x" });

    // Event-to-metric latency: a job finishes, its Job Hook arrives, the counter moves. The figure
    // runs from the job's finish to the end of the first scrape that shows it, so it holds three
    // waits, also recorded apart: the delivery's wait in the simulated GitLab's send queue (this
    // process, behind the churn's deliveries in the same lane), the delivery itself until the
    // exporter's 200 (the exporter applies it, series included, before answering), and the
    // scrape that shows it (an 11 MiB body read by this process). Before each sample the probe
    // waits for its own job's earlier deliveries only: waiting for the sender to fall idle, while
    // the churn goes on, took seconds and on a busy machine never ended.
    const latenciesStarted = churn.delivered();
    /**
     * The probe job's deliveries so far answered. On a machine too busy for the preset the churn
     * outruns the sender, its lanes grow without end, and the wait would never end: the run
     * stops instead, saying so.
     */
    const settled = async (jobId: number) => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`the probe's Job Hooks waited over 10 s behind ${webhooks.backlog} queued deliveries: the sender cannot keep up with ${SCALE.webhookRate} a second on this machine now (load average ${loadavg()[0]!.toFixed(1)})`)), 10_000);
      });
      try {
        await Promise.race([webhooks.settled(jobId), expired]);
      } finally {
        clearTimeout(timer);
      }
    };
    const loadAtLatency = loadavg()[0]!;
    const latencies: number[] = [];
    const sendWaits: number[] = [];
    const answers: number[] = [];
    for (let i = 0; i < SCALE.latencySamples; i++) {
      const project = active[i % active.length]!;
      const job = world.createJob(project.id, { name: "latency", tags: ["docker"], status: "pending" });
      world.start(job.id, runner);
      await settled(job.id);
      const match = { project: project.pathWithNamespace, status: "success" };
      const before = await familySum(url, "gitlab_ci_jobs_finished_total", match);
      const finishedAt = performance.now();
      probeAttempts.set(job.id, { event: "Job Hook", key: job.id, status: null, queuedAt: finishedAt, sentAt: finishedAt, answeredAt: finishedAt });
      world.finish(job.id, "success");
      for (;;) {
        const now = await familySum(url, "gitlab_ci_jobs_finished_total", match);
        if (now > before) break;
        if (performance.now() - finishedAt > 10_000) throw new Error("webhook never showed up on /metrics");
      }
      latencies.push(performance.now() - finishedAt);
      await settled(job.id);
      const attempt = probeAttempts.get(job.id)!;
      probeAttempts.delete(job.id);
      if (attempt.status === null) throw new Error(`the probe's Job Hook for job ${job.id} got no answer`);
      sendWaits.push(attempt.sentAt - attempt.queuedAt);
      answers.push(attempt.answeredAt - attempt.sentAt);
    }
    record("load_average_at_latency", "machine load (1-min average) as the event-to-metric phase began", loadAtLatency, "");
    record("webhook_to_metric_p50_ms", "webhook → /metrics p50", percentile(latencies, 50), "ms");
    record("webhook_to_metric_p99_ms", "webhook → /metrics p99", percentile(latencies, 99), "ms", { limit: 250, better: "lower", text: "< 250 ms" });
    record("webhook_send_wait_p99_ms", "  its wait in the simulated GitLab's send queue, p99", percentile(sendWaits, 99), "ms");
    record("webhook_answer_p99_ms", "  its delivery until the exporter's 200, p99", percentile(answers, 99), "ms");

    // Event-to-metric latency from a watch event: a pod appears, its info series shows up.
    const watchLatencies: number[] = [];
    for (let i = 0; i < SCALE.latencySamples; i++) {
      const pod = runnerPod(podSerial++, new Date());
      const name = pod.metadata!.name!;
      const addedAt = performance.now();
      cluster.addPod(pod);
      for (;;) {
        if ((await get(`${url}/metrics`)).body.includes(`pod="${name}"`)) break;
        if (performance.now() - addedAt > 10_000) throw new Error("watch event never showed up on /metrics");
      }
      watchLatencies.push(performance.now() - addedAt);
      cluster.deletePod(pod.metadata!.namespace!, name);
    }
    const latenciesEnded = churn.delivered();
    record("watch_to_metric_p50_ms", "watch event → /metrics p50", percentile(watchLatencies, 50), "ms");
    record("watch_to_metric_p99_ms", "watch event → /metrics p99", percentile(watchLatencies, 99), "ms", { limit: 250, better: "lower", text: "< 250 ms" });

    // Steady state: API cost per poll cycle, and the exporter's CPU use over a window in which it
    // polls, keeps its watches and receives the webhooks, with no scrape inside the window.
    const requestsBefore = sum(await exporterSamples(url), "gitlab_ci_exporter_gitlab_requests_total");
    const hotProjects = sum(await exporterSamples(url), "gitlab_ci_exporter_gitlab_projects", { state: "hot" });
    const steadyStarted = churn.delivered();
    const cpuFrom = processCpu(child.pid!);
    await sleep(SCALE.cycleWindowS * 1000);
    const cpuTo = processCpu(child.pid!);
    const steadyEnded = churn.delivered();
    const requestsAfter = sum(await exporterSamples(url), "gitlab_ci_exporter_gitlab_requests_total");
    const perCycle = (requestsAfter - requestsBefore) / (SCALE.cycleWindowS / POLL_INTERVAL_S);
    record("requests_per_cycle", `GitLab requests per ${POLL_INTERVAL_S} s poll cycle (hot projects: ${hotProjects})`, perCycle, "");
    record("requests_per_active_project", "  per hot project (idle budget of 5/s excluded)", (perCycle - 5 * POLL_INTERVAL_S) / Math.max(1, hotProjects), "");
    record("cpu_steady_cores", `exporter CPU in a ${SCALE.cycleWindowS} s steady window (polling, webhooks, no scrape)`, (cpuTo.seconds - cpuFrom.seconds) / ((cpuTo.at - cpuFrom.at) / 1000), "cores");

    // Webhook deliveries answered 2xx per second, over all the phases they ran in and in each.
    await churn.stop();
    const webhooksEnded = churn.delivered();
    const rateTarget = { limit: SCALE.webhookRate, better: "higher", text: `≥ ${SCALE.webhookRate}/s` } as const;
    record("webhooks_per_s", "webhook deliveries answered 2xx, per second (from the scrapes to the soak)", deliveryRate(webhooksStarted, webhooksEnded), "/s", rateTarget);
    record("webhooks_scrape_per_s", "  during the scrape measurements", deliveryRate(scrapesStarted, scrapesEnded), "/s", rateTarget);
    record("webhooks_latency_per_s", "  during the event-to-metric measurements (their own jobs' included)", deliveryRate(latenciesStarted, latenciesEnded), "/s", rateTarget);
    record("webhooks_steady_per_s", "  during the steady window", deliveryRate(steadyStarted, steadyEnded), "/s", rateTarget);

    // Soak: job lifecycles through polling and pod churn through the watch, then memory again.
    // Only the soak's own jobs from here on, so the count can be checked exactly.
    await sleep(3 * POLL_INTERVAL_S * 1000);
    webhooks.paused = true;
    let played = 0;
    const finishedBefore = await familySum(url, "gitlab_ci_jobs_finished_total");
    /** Plays `count` job lifecycles (created, started, finished: 1 in 7 failed) and waits until the poller has read nearly all. */
    const playLifecycles = async (count: number, label: string) => {
      const phaseStarted = Date.now();
      const target = played + count;
      while (played < target) {
        const batch = Math.min(2000, target - played);
        for (let i = 0; i < batch; i++) {
          const job: SimJob = world.createJob(active[(played + i) % active.length]!.id, { name: "soak", tags: tagSets[i % tagSets.length]!, status: "pending" });
          world.start(job.id, runner);
          world.finish(job.id, i % 7 === 0 ? "failed" : "success", i % 7 === 0 ? (i % 21 === 0 ? "runner_system_failure" : "script_failure") : undefined);
        }
        played += batch;
        // Let the poller read them (it reads up to 1,000 new jobs per project and cycle).
        while ((await familySum(url, "gitlab_ci_jobs_finished_total")) - finishedBefore < played - 2 * batch) await sleep(100);
        world.pruneFinished(60_000);
        if (played % Math.max(batch, Math.floor(SCALE.soakJobs / 10)) === 0 || played === target) {
          const rss = (await familySum(url, "process_resident_memory_bytes")) / 2 ** 20;
          console.log(`  ${label}: ${played.toLocaleString("en-US")} lifecycles in all, ${((Date.now() - phaseStarted) / 1000).toFixed(0)} s, RSS ${rss.toFixed(0)} MiB`);
        }
      }
    };
    /** Pods created and deleted, as a busy cluster does all day. */
    const churnPods = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const pod = cluster.addPod(runnerPod(podSerial++, new Date()));
        cluster.deletePod(pod.metadata!.namespace!, pod.metadata!.name!);
        if (i % 1000 === 999) await sleep(20);
      }
      await sleep(3 * POLL_INTERVAL_S * 1000);
    };

    // Warm-up: a tenth of the soak's own work, so the reading after it shows a process that has
    // met its steady workload (pools, caches and V8's heap sized for it) and the growth across the
    // soak shows what accumulates, not the first expansion.
    const warmupJobs = Math.floor(SCALE.soakJobs / 10);
    const warmupChurns = Math.floor(SCALE.podChurn / 10);
    console.log(`warm-up: ${warmupJobs.toLocaleString("en-US")} job lifecycles, ${warmupChurns.toLocaleString("en-US")} pod churns…`);
    await playLifecycles(warmupJobs, "warm-up");
    await churnPods(warmupChurns);
    const warm = await memory(child, url);
    record("rss_warm_mib", "RSS after warm-up", warm.rss, "MiB", { limit: 160, better: "lower", text: "≤ 160 MiB" });
    record("heap_warm_mib", "heap used after warm-up", warm.heap, "MiB");
    record("heap_total_warm_mib", "  heap committed", warm.heapTotal, "MiB");
    record("external_warm_mib", "  external (Buffers)", warm.external, "MiB");

    console.log(`soak: ${SCALE.soakJobs.toLocaleString("en-US")} job lifecycles, ${SCALE.podChurn.toLocaleString("en-US")} pod churns…`);
    await playLifecycles(SCALE.soakJobs, "soak");
    await churnPods(SCALE.podChurn);
    const podsAfterChurn = sum(await exporterSamples(url), "gitlab_ci_job_pod_info");
    record("pod_churns", "soak: pod churns played (after the warm-up's)", SCALE.podChurn, "");
    record("pods_after_churn", "soak: job pod series after the churn (expected: live pods)", podsAfterChurn, "", { limit: SCALE.pods, better: "lower", text: `= ${SCALE.pods}` });
    const counted = sum(await exporterSamples(url), "gitlab_ci_jobs_finished_total") - finishedBefore;
    const soaked = await memory(child, url);
    record("soak_jobs", "soak: job lifecycles played (after the warm-up's)", played - warmupJobs, "");
    json.lifecycles_played = played;
    record("soak_counted", "soak and warm-up: finished jobs counted / played", counted, ` / ${played.toLocaleString("en-US")}`);
    record("rss_soak_mib", "RSS after soak", soaked.rss, "MiB", { limit: 160, better: "lower", text: "≤ 160 MiB" });
    record("heap_soak_mib", "heap used after soak", soaked.heap, "MiB");
    record("heap_total_soak_mib", "  heap committed", soaked.heapTotal, "MiB");
    record("external_soak_mib", "  external (Buffers)", soaked.external, "MiB");
    record("rss_growth_pct", "RSS growth across the soak", ((soaked.rss - warm.rss) / warm.rss) * 100, "%", { limit: 5, better: "lower", text: "< 5 %" });
    record("heap_growth_pct", "heap used growth across the soak", ((soaked.heap - warm.heap) / warm.heap) * 100, "%");
    // What the cost state and families add, in process at the same scale (bench/cost-footprint.ts).
    const cost = costFootprint({ projects: SCALE.projects, pods: SCALE.pods, nodes: SCALE.nodes, spotNodes: SCALE.spotNodes, podChurn: SCALE.podChurn });
    record("cost_heap_mib", "cost state and families: heap added", cost.heapMiB, "MiB");
    record("cost_heap_churn_mib", "  after the pod churn", cost.heapAfterChurnMiB, "MiB");
    record("cost_series_in_process", "  their series (after the churn)", cost.series, ` (${cost.seriesAfterChurn})`);
    record("cost_render_ms", "  rendering them once (a reading included)", cost.renderMs, "ms");
    json.cost_series_by_family = cost.seriesByFamily;
    record("duration_s", "benchmark duration", (Date.now() - started) / 1000, "s");

    report.printTable();
    mkdirSync(`${root}bench/results`, { recursive: true });
    const file = resultsFile;
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nfigures written to ${file.replace(root, "")}`);
  } finally {
    child.kill("SIGTERM");
    await Promise.all([gitlab.close(), kube.close()]);
    agent.destroy();
  }
}

(process.argv.includes("--sharded") ? import("./sharded.js").then((sharded) => sharded.runSharded()) : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
