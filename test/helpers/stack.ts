import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { startExporter, type RunningExporter } from "../../src/main.js";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { scrape, type Sample } from "./prom.js";

export const TOKEN = "glpat-simulated-token-0123456789";
export const WEBHOOK_SECRET = "webhook-secret-for-tests";

export interface Stack {
  readonly world: GitLabWorld;
  readonly gitlab: GitLabSimulator;
  exporter: RunningExporter;
  env: Record<string, string>;
  scrape(): Promise<Sample[]>;
  /** Stops the exporter and starts a fresh one against the same world (a process restart). */
  restartExporter(): Promise<void>;
  close(): Promise<void>;
}

/** A simulated GitLab and an exporter wired to it over loopback HTTP. */
export async function startStack(
  options: {
    world?: GitLabWorld;
    env?: Record<string, string>;
    rateLimitPerMinute?: number;
    /** The project jobs endpoint's own limit a minute (`false`, lifted, unless a test sets it). */
    projectJobsRateLimitPerMinute?: number | false;
    /** Where the simulator's one-minute rate-limit windows begin; on the minute unless a test sets it. */
    rateLimitWindowStart?: number;
    /** Path of a kubeconfig file: enables the Kubernetes side against that cluster (e.g. the simulator's). */
    kubeconfig?: string;
    /** Runs once the simulated GitLab listens, before the exporter starts: e.g. to arm faults for its first sync. */
    beforeExporter?: (gitlab: GitLabSimulator) => void;
  } = {},
): Promise<Stack> {
  const world = options.world ?? new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  // Tests compress minutes into seconds; GitLab's per-minute quotas are lifted to match unless a test sets them.
  const gitlab = await startGitLabSimulator({
    world,
    token: TOKEN,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 1_000_000,
    projectJobsRateLimitPerMinute: options.projectJobsRateLimitPerMinute ?? false,
    rateLimitWindowStart: options.rateLimitWindowStart,
  });
  const env: Record<string, string> = {
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    LISTEN_ADDRESS: "127.0.0.1:0",
    LOG_LEVEL: "silent",
    GITLAB_POLL_INTERVAL_SECONDS: "0.2",
    GITLAB_MAX_REQUESTS_PER_SECOND: "200",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "50",
    GITLAB_REQUEST_TIMEOUT_SECONDS: "2",
    // GitLab-only unless a test hands over a kubeconfig (`kubeconfig` option, or KUBE_* in env).
    KUBE_ENABLED: options.kubeconfig === undefined ? "false" : "true",
    ...(options.kubeconfig === undefined ? {} : { KUBECONFIG: options.kubeconfig, KUBE_WATCH_STALL_SECONDS: "3", KUBE_RETRY_INITIAL_SECONDS: "0.05", KUBE_RETRY_MAX_SECONDS: "0.5" }),
    ...options.env,
  };
  options.beforeExporter?.(gitlab);
  const start = () => startExporter(loadConfig(env), pino({ level: "silent" }));
  const stack: Stack = {
    world,
    gitlab,
    exporter: await start(),
    env,
    scrape: () => scrape(stack.exporter.url),
    async restartExporter() {
      await stack.exporter.close();
      stack.exporter = await start();
    },
    async close() {
      await stack.exporter.close();
      await gitlab.close();
    },
  };
  return stack;
}

export async function waitReady(stack: Stack, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${stack.exporter.url}/readyz`);
    if (response.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("exporter did not become ready");
}
