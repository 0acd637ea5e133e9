import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { startExporter, type RunningExporter } from "../../src/main.js";
import type { GraphqlMode } from "../../src/simulator/gitlab/graphql-endpoint.js";
import { GitLabWorld, startGitLabSimulator, WebhookSender, type GitLabSimulator, type HookHandle, type HookTarget, type WebhookSenderOptions } from "../../src/simulator/gitlab/index.js";
import { scrape, sum, type Sample } from "./prom.js";

export const TOKEN = "glpat-simulated-token-0123456789";
export const WEBHOOK_SECRET = "webhook-secret-for-tests";

/** A simulated GitLab's hook to the exporter's `/webhooks/gitlab`. */
export interface StackHookOptions extends WebhookSenderOptions {
  /** Job and pipeline events unless told. */
  readonly events?: HookTarget["events"];
  readonly projectIds?: readonly number[];
  /** The token the hook sends: the exporter's `GITLAB_WEBHOOK_SECRET` unless told. */
  readonly token?: string;
}

export interface Stack {
  readonly world: GitLabWorld;
  readonly gitlab: GitLabSimulator;
  exporter: RunningExporter;
  env: Record<string, string>;
  scrape(): Promise<Sample[]>;
  /**
   * A WebhookSender on the stack's world with one hook to the exporter. Failing hooks are
   * disabled as on GitLab.com (`autoDisable: "current"`) unless told, whatever the profile, and
   * `close()` fails the test if the hook was ever disabled: GitLab would have stopped telling
   * the exporter anything.
   */
  webhooks(options?: StackHookOptions): WebhookSender;
  /**
   * Stops the exporter and starts a fresh one against the same world (a process restart); the
   * hooks of `webhooks()` then point at it.
   */
  restartExporter(): Promise<void>;
  /** Stops everything; rejects if a hook of `webhooks()` was disabled, unless the stack allows it. */
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
    /** The simulator's GraphQL endpoint: on (default), off (404) or refused (403). */
    graphql?: GraphqlMode;
    /** Also accept this token, as an administrator's (GraphQL's instance job list). */
    adminToken?: string;
    /** Collects the exporter's log lines (JSON, level info and above) instead of silencing them. */
    logs?: string[];
    /** The test is about a hook being disabled: `close()` does not fail for it. */
    allowDisabledHooks?: boolean;
  } = {},
): Promise<Stack> {
  const world = options.world ?? new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  // Tests compress minutes into seconds; GitLab's per-minute quotas are lifted to match unless a test sets them.
  const gitlab = await startGitLabSimulator({
    world,
    token: TOKEN,
    adminToken: options.adminToken,
    graphql: options.graphql,
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
  const logs = options.logs;
  const logger = logs ? pino({ level: "info" }, { write: (line: string) => void logs.push(line) }) : pino({ level: "silent" });
  const start = () => startExporter(loadConfig(env), logger);
  const hookTo = (url: string) => `${url}/webhooks/gitlab`;
  const senders: Array<{ sender: WebhookSender; target: HookTarget; hook: HookHandle }> = [];
  const stack: Stack = {
    world,
    gitlab,
    exporter: await start(),
    env,
    scrape: () => scrape(stack.exporter.url),
    webhooks(hookOptions = {}) {
      const { events, projectIds, token, ...senderOptions } = hookOptions;
      const sender = new WebhookSender(world, { autoDisable: "current", ...senderOptions });
      const secret = token ?? env.GITLAB_WEBHOOK_SECRET;
      const target: HookTarget = {
        url: hookTo(stack.exporter.url),
        ...(secret === undefined ? {} : { token: secret }),
        events: events ?? { job: true, pipeline: true },
        ...(projectIds ? { projectIds } : {}),
      };
      senders.push({ sender, target, hook: sender.addHook(target) });
      return sender;
    },
    async restartExporter() {
      await stack.exporter.close();
      stack.exporter = await start();
      // The restarted process listens on another port: the hooks follow it, as a Service would.
      for (const entry of senders) {
        entry.hook.remove();
        entry.hook = entry.sender.addHook({ ...entry.target, url: hookTo(stack.exporter.url) });
      }
    },
    async close() {
      for (const { sender } of senders) sender.detach();
      await Promise.all(senders.map(({ sender }) => sender.flush()));
      await stack.exporter.close();
      await gitlab.close();
      if (!options.allowDisabledHooks) expectHooksNeverDisabled(senders.map(({ sender }) => sender));
    },
  };
  return stack;
}

/** Fails with what GitLab would have seen when a hook to the exporter was disabled. */
function expectHooksNeverDisabled(senders: readonly WebhookSender[]): void {
  for (const sender of senders) {
    const disabled = sender.everDisabled();
    if (disabled.length === 0) continue;
    const answers = [...sender.stats.statuses].map(([status, count]) => `${count}× ${status}`).join(", ");
    const first = disabled[0]!;
    throw new Error(
      `GitLab would have disabled the exporter's webhook ${first.url}: ${first.status} after ${first.recentFailures} failures in a row ` +
        `(${disabled.length} disabling(s); answers: ${answers || "none"}; no answer: ${sender.stats.failed})`,
    );
  }
}

/**
 * Waits for `/readyz` to answer 200 and, unless `allRead` is false, for every watched project to
 * have been read once (`gitlab_ci_exporter_gitlab_projects_unread` 0): readiness no longer waits
 * for the REST first visits, and most tests want the whole picture before they act.
 */
export async function waitReady(stack: Stack, timeoutMs = 15_000, options: { allRead?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
  while (Date.now() < deadline) {
    const response = await fetch(`${stack.exporter.url}/readyz`);
    if (response.status === 200) break;
    await pause();
  }
  if (Date.now() >= deadline) throw new Error("exporter did not become ready");
  if (options.allRead === false) return;
  while (Date.now() < deadline) {
    if (sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_projects_unread") === 0) return;
    await pause();
  }
  throw new Error("exporter became ready but did not read every project in time");
}
