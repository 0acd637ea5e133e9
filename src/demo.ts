import { pino } from "pino";
import { loadConfig } from "./config/load.js";
import { startExporter } from "./main.js";
import { CiFleetScenario, GitLabWorld, WebhookSender, startGitLabSimulator } from "./simulator/gitlab/index.js";

/**
 * `npm run demo`: a simulated GitLab playing a small CI fleet, and the exporter wired to it over
 * real HTTP (REST polling and webhooks), so every metric moves as it would in production.
 */
const TOKEN = "demo-token";
const WEBHOOK_SECRET = "demo-webhook-secret";
const port = Number(process.env.DEMO_PORT ?? 9863);

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
  LISTEN_ADDRESS: `127.0.0.1:${port}`,
  LOG_LEVEL: logLevel,
  KUBE_ENABLED: "false",
});
const exporter = await startExporter(config, logger);

const webhooks = new WebhookSender(world);
webhooks.addHook({ url: `${exporter.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
scenario.start(500);

process.stdout.write(
  [
    "",
    `  simulated GitLab:  ${gitlab.url}/api/v4/projects`,
    `  exporter metrics:  ${exporter.url}/metrics`,
    `  exporter index:    ${exporter.url}/`,
    "",
    "  Press Ctrl+C to stop.",
    "",
  ].join("\n"),
);

const stop = async () => {
  scenario.stop();
  await exporter.close();
  await gitlab.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
