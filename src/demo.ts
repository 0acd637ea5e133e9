import { pino } from "pino";
import { loadConfig } from "./config/load.js";
import { demoPort, startDemoExporter } from "./demo/port.js";
import { parseMetrics } from "./lib/prom-text.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CiFleetScenario, GitLabWorld, WebhookSender, startGitLabSimulator } from "./simulator/gitlab/index.js";
import { KubeFleet, KubeWorld, startKubeSimulator } from "./simulator/kube/index.js";

/**
 * `npm run demo`: a simulated GitLab and Kubernetes cluster playing a small CI fleet (runner pods
 * scheduled onto spot nodes of eight job pods each, the autoscaler launching nodes when they are
 * full, Kaniko builds, a spot interruption and an autoscaler scale-down every few minutes, a
 * lunch-time scale-down of four spot nodes three minutes in, and eight minutes in a stuck queue:
 * the cloud reclaims six spot nodes and has no spot capacity for six minutes, so job pods stay
 * Unschedulable, then the spot-tagged jobs stay pending; when capacity returns the registry
 * rate-limits the fresh nodes' pulls for a minute and a half), and the exporter wired to both over
 * real HTTP, so every metric moves as it would in production.
 */
const TOKEN = "demo-token";
const WEBHOOK_SECRET = "demo-webhook-secret";
const port = demoPort(process.env.DEMO_PORT);

const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
const gitlab = await startGitLabSimulator({ world, token: TOKEN });
const scenario = new CiFleetScenario({
  world,
  seed: 42,
  projects: 60,
  activeProjects: 12,
  tagSets: [["docker", "linux"], ["kaniko"], ["docker", "spot"], []],
  runners: [
    { id: 1, description: "eks-spot-runner" },
    { id: 2, description: "eks-ondemand-runner" },
  ],
  jobsPerMinute: 120,
  meanQueueSeconds: 8,
  meanRunSeconds: 45,
  scriptFailureRatio: 0.15,
  systemFailureRatio: 0.03,
  canceledRatio: 0.03,
});

const cluster = new KubeWorld({ historySize: 50_000 });
const kube = await startKubeSimulator({ world: cluster });
const fleet = new KubeFleet({ kube: cluster, scenario, gitlabUrl: world.baseUrl, spotNodes: 12, onDemandNodes: 4, capacity: { podsPerNode: 8 } });
const kubeconfig = join(mkdtempSync(join(tmpdir(), "gitlab-ci-k8s-exporter-demo-")), "kubeconfig");
writeFileSync(kubeconfig, kube.kubeconfig());

const logLevel = process.env.LOG_LEVEL ?? "warn";
const logger = pino({ level: logLevel });
const config = loadConfig({
  GITLAB_URL: gitlab.url,
  GITLAB_TOKEN: TOKEN,
  GITLAB_GROUPS: [...new Set(world.projects().map((p) => p.pathWithNamespace.split("/")[0]!))].join(","),
  GITLAB_POLL_INTERVAL_SECONDS: "5",
  GITLAB_IDLE_REQUESTS_PER_SECOND: "2",
  GITLAB_MAX_REQUESTS_PER_SECOND: "20",
  GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
  LISTEN_ADDRESS: `127.0.0.1:${port.port}`,
  LOG_LEVEL: logLevel,
  KUBECONFIG: kubeconfig,
});
const exporter = await startDemoExporter(config, logger, port);

const webhooks = new WebhookSender(world);
webhooks.addHook({ url: `${exporter.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
scenario.start(500);
// Lunch: cluster-autoscaler scales four spot nodes down, and back up three minutes later.
scenario.schedule(180_000, () => fleet.lunch({ nodes: 4, backAfterMs: 180_000 }));
// The stuck queue: no spot capacity for six minutes, the runners full after three; then the
// registry rate-limits the pulls of the fresh nodes for a minute and a half.
const OUTAGE_AT_MS = 480_000;
const OUTAGE_MS = 360_000;
scenario.schedule(OUTAGE_AT_MS, () => {
  process.stdout.write("  incident: spot capacity gone (six nodes reclaimed, none to be had): job pods wait Unschedulable\n");
  fleet.capacityOutage({ nodes: 6, forMs: OUTAGE_MS, runnersFullAfterMs: 180_000, stalledTags: ["docker", "spot"] });
});
scenario.schedule(OUTAGE_AT_MS + OUTAGE_MS, () => {
  process.stdout.write("  incident: spot capacity back; the registry rate-limits the new nodes' pulls for 90 s\n");
  fleet.capacity!.failPulls();
  scenario.schedule(90_000, () => fleet.capacity!.healRegistry());
});

// Spot churn: every 90 s the cloud reclaims a spot node, every 150 s the autoscaler scales one
// down; a Kaniko build outside CI every 40 s. Each takes its running jobs down with it.
let churn = 0;
const churnTimer = setInterval(() => {
  churn++;
  const spot = fleet.spotNodeNames();
  if (churn % 9 === 0 && spot.length > 0) fleet.spotInterruption(spot[churn % spot.length]!);
  if (churn % 15 === 0 && spot.length > 0) fleet.scaleDown(spot[(churn + 1) % spot.length]!);
  if (churn % 4 === 0) fleet.runPlainBuild(`nightly-image-${churn}`, 20 + (churn % 30), churn % 8 !== 0);
}, 10_000);

// Every 30 s, where jobs wait, as the exporter tells it.
const waitTimer = setInterval(() => void reportWaits(), 30_000);
async function reportWaits(): Promise<void> {
  const samples = parseMetrics(await (await fetch(`${exporter.url}/metrics`)).text());
  const total = (name: string, reason?: string) => samples.filter((s) => s.name === name && (reason === undefined || s.labels.reason === reason)).reduce((n, s) => n + s.value, 0);
  const reasons = ["unschedulable", "scheduling", "container_creating", "image_pull", "other"].map((r) => `${r} ${total("gitlab_ci_job_pods_waiting", r)}`);
  process.stdout.write(`  jobs pending ${total("gitlab_ci_jobs_pending")}, job pods waiting: ${reasons.join(", ")}\n`);
}

process.stdout.write(
  [
    "",
    `  simulated GitLab:  ${gitlab.url}/api/v4/projects`,
    `  simulated cluster: ${kube.url}/api/v1/pods`,
    `  exporter metrics:  ${exporter.url}/metrics`,
    `  exporter index:    ${exporter.url}/`,
    "",
    "  Press Ctrl+C to stop.",
    "",
  ].join("\n"),
);

const stop = async () => {
  clearInterval(churnTimer);
  clearInterval(waitTimer);
  scenario.stop();
  fleet.dispose();
  await exporter.close();
  await Promise.all([gitlab.close(), kube.close()]);
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
