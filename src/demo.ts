import { pino } from "pino";
import { loadConfig } from "./config/load.js";
import { demoPort, startDemoExporter } from "./demo/port.js";
import { parseMetrics } from "./lib/prom-text.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DemoDay } from "./demo/day.js";
import { buildDemoFleet } from "./demo/fleet.js";
import { startDemoPrometheus, type DemoPrometheus } from "./demo/prometheus.js";
import { WebhookSender, startGitLabSimulator } from "./simulator/gitlab/index.js";
import { simulatedPricesYaml, startKubeSimulator } from "./simulator/kube/index.js";

/**
 * `npm run demo`: a simulated GitLab and Kubernetes cluster playing a small CI fleet's day
 * (`demo/day.ts`: a healthy baseline of runner pods bin-packed onto spot nodes that the
 * autoscaler grows and shrinks, Kaniko builds, and on schedule a wave of spot interruptions, a
 * stuck queue and a burst of system failures, each announced as it starts and ends), and the
 * exporter wired to both over real HTTP, so every metric moves as it would in production.
 * `-- --prometheus` also starts a real Prometheus with the rules of `rules/` scraping it.
 */
const TOKEN = "demo-token";
const WEBHOOK_SECRET = "demo-webhook-secret";
const port = demoPort(process.env.DEMO_PORT);

const demo = buildDemoFleet();
const { world, cluster } = demo;
const gitlab = await startGitLabSimulator({ world, token: TOKEN });
const kube = await startKubeSimulator({ world: cluster });
const demoDir = mkdtempSync(join(tmpdir(), "gitlab-ci-k8s-exporter-demo-"));
const kubeconfig = join(demoDir, "kubeconfig");
writeFileSync(kubeconfig, kube.kubeconfig());
// Every instance type of the simulated fleet priced, so the CI cost dashboard fills.
const prices = join(demoDir, "prices.yaml");
writeFileSync(prices, simulatedPricesYaml());

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
  KUBE_NODE_PRICES_FILE: prices,
});
const exporter = await startDemoExporter(config, logger, port);

const webhooks = new WebhookSender(world);
webhooks.addHook({ url: `${exporter.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
const prometheus: DemoPrometheus | undefined = process.argv.includes("--prometheus")
  ? await startDemoPrometheus(exporter.url).catch((error: Error) => {
      process.stderr.write(`demo: --prometheus: ${error.message}\n`);
      process.exit(1);
    })
  : undefined;
const day = new DemoDay(demo, { repeat: true, announce: (line) => process.stdout.write(line) });
day.start();

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
    ...(prometheus ? [`  Prometheus:        ${prometheus.url}/alerts (rules/ loaded, scraping the exporter every 5 s)`] : []),
    "",
    ...day.describe(),
    "",
    "  Press Ctrl+C to stop.",
    "",
  ].join("\n"),
);

const stop = async () => {
  clearInterval(waitTimer);
  day.stop();
  demo.fleet.dispose();
  await prometheus?.stop();
  await exporter.close();
  await Promise.all([gitlab.close(), kube.close()]);
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
