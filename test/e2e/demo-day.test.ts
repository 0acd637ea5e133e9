import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Jsonnet } from "@hanazuki/node-jsonnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIXIN_DIR, mixinFiles, type RenderedMixin } from "../../mixin/render.js";
import { DAY_MINUTES, DemoDay, INCIDENTS } from "../../src/demo/day.js";
import { buildDemoFleet } from "../../src/demo/fleet.js";
import { startGitLabSimulator, WebhookSender, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { spawnExporter, waitFor, type ExporterProcess } from "../helpers/exporter-process.js";
import { eventually } from "../helpers/prom.js";
import { startAlertmanager, startPrometheus, type Daemon } from "../helpers/prometheus.js";

/**
 * The demo's day, 100 times faster: its fleet and schedule as `npm run demo` plays them, the
 * exporter on both simulators, and a real Prometheus and Alertmanager loading the rules rendered
 * from mixin/ with every `for` and window of the incidents' alerts 100 times shorter too. So each
 * alert fires and resolves at the minute of the day it would in the demo with `rules/`.
 */
const SPEED = 100;
/** The mixin's durations and windows the incidents' alerts depend on. */
const SCALED_DURATIONS = ["pendingJobsFor", "jobPodsWaitingFor", "jobQueuedTooLongFor", "systemFailureFor", "failureRatioWindow", "interruptedJobsWindow"];
const SCALED_SECONDS = ["jobQueuedTooLongSeconds"];
const EXPECTED = INCIDENTS.flatMap((incident) => incident.alerts.map((alert) => ({ alert, incident })));
/** Day minutes from a change in the fleet to an alert's state (the exporter, a scrape, two rule evaluations): 8 s on a busy machine. */
const LAG_MINUTES = (8 * SPEED) / 60;
/**
 * Day minutes an incident's page may take to resolve after it ends: its backlog drained or its
 * window passed, and the lag.
 */
const RESOLVES_WITHIN_MINUTES: Record<string, number> = {
  GitLabCIJobPodsCannotGetNodes: 5 + LAG_MINUTES,
  GitLabCIPendingJobsHigh: 5 + LAG_MINUTES,
  GitLabCISpotInterruptionsTakingJobs: 15 + LAG_MINUTES,
  GitLabCISystemFailureRatioHigh: 10 + LAG_MINUTES,
};

interface Notified {
  readonly status: string;
  readonly labels: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
}

const TOKEN = "glpat-demo-day-0123456789";
const WEBHOOK_SECRET = "demo-day-webhook-secret";

let gitlab: GitLabSimulator;
let exporter: ExporterProcess;
let webhooks: WebhookSender;
let kube: KubeSimulator;
let prometheus: Daemon;
let alertmanager: Daemon;
let receiver: Server;
let kubeconfigDir: string;
let day: DemoDay;
const notified: Notified[] = [];
const announced: string[] = [];
const demo = buildDemoFleet({ speed: SPEED });

/**
 * The rule files of rules/, rendered with the mixin's own `_config` values for the incidents'
 * alerts SPEED times shorter (the dashboards left out: they take longest to render).
 */
async function fasterRules(): Promise<Map<string, string>> {
  const evaluate = (snippet: string, overrides: object = {}) =>
    new Jsonnet().extString("overrides", JSON.stringify(overrides)).evaluateSnippet(snippet, path.join(MIXIN_DIR, "demo-day.jsonnet")).then((json) => JSON.parse(json) as unknown);
  const config = (await evaluate("(import 'mixin.libsonnet')._config")) as Record<string, string | number>;
  const overrides: Record<string, string | number> = {};
  for (const key of SCALED_DURATIONS) overrides[key] = `${Math.round(durationMs(String(config[key])) / SPEED)}ms`;
  for (const key of SCALED_SECONDS) overrides[key] = Math.round(Number(config[key]) / SPEED);
  const mixin = "local mixin = (import 'mixin.libsonnet') + { _config+:: std.parseJson(std.extVar('overrides')) };";
  const rendered = (await evaluate(`${mixin} { alerts: mixin.prometheusAlerts, rules: mixin.prometheusRules, dashboards: {} }`, overrides)) as RenderedMixin;
  return new Map([...mixinFiles(rendered)].filter(([name]) => name.startsWith("rules/")));
}

function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`not a simple Prometheus duration: ${duration}`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
}

const minute = (iso: string) => day.minuteOf(Date.parse(iso));

/** Each firing of the alert, by when Prometheus fired it and when it resolved (day minutes; resolved undefined while firing). */
function episodes(alertname: string): Array<{ fired: number; resolved: number | undefined }> {
  const byStart = new Map<string, Notified[]>();
  for (const n of notified.filter((a) => a.labels.alertname === alertname)) byStart.set(n.startsAt, [...(byStart.get(n.startsAt) ?? []), n]);
  return [...byStart].map(([startsAt, all]) => {
    const resolved = all.find((n) => n.status === "resolved");
    return { fired: minute(startsAt), resolved: resolved ? minute(resolved.endsAt) : undefined };
  });
}

/** The result of an instant query at `atMs`. */
async function queryAt(promql: string, atMs: number): Promise<Array<{ metric: Record<string, string> }>> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}&time=${atMs / 1000}`);
  return ((await response.json()) as { data: { result: Array<{ metric: Record<string, string> }> } }).data.result;
}

async function spotNodesOverTime(): Promise<Array<[minute: number, nodes: number]>> {
  const end = Date.now() / 1000;
  const start = day.startedAtMs / 1000;
  const promql = 'sum(gitlab_ci_spot_nodes{nodegroup="ci-spot"})';
  const response = await fetch(`${prometheus.url}/api/v1/query_range?query=${encodeURIComponent(promql)}&start=${start}&end=${end}&step=1`);
  const body = (await response.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
  return (body.data.result[0]?.values ?? []).map(([at, value]) => [day.minuteOf(at * 1000), Number(value)]);
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      notified.push(...(JSON.parse(body) as { alerts: Notified[] }).alerts);
      response.end();
    });
  });
  const receiverUrl = await new Promise<string>((resolve) => receiver.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(receiver.address() as { port: number }).port}`)));

  const rendering = fasterRules();
  const startingAlertmanager = startAlertmanager(`${receiverUrl}/alerts`);
  gitlab = await startGitLabSimulator({ world: demo.world, token: TOKEN, rateLimitPerMinute: 1_000_000, projectJobsRateLimitPerMinute: false });
  kube = await startKubeSimulator({ world: demo.cluster });
  kubeconfigDir = await mkdtemp(path.join(tmpdir(), "demo-day-kube-"));
  const kubeconfig = path.join(kubeconfigDir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  // The exporter in a process of its own, as in production: the day's simulators keep this one busy.
  exporter = await spawnExporter({
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: [...new Set(demo.world.projects().map((p) => p.pathWithNamespace.split("/")[0]!))].join(","),
    GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    // The demo's own budget, so the first sync takes seconds.
    GITLAB_POLL_INTERVAL_SECONDS: "5",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "2",
    GITLAB_MAX_REQUESTS_PER_SECOND: "20",
    KUBECONFIG: kubeconfig,
    LOG_LEVEL: "warn",
    // Its own waits scaled as the day is.
    KUBE_INTERRUPTION_SETTLE_SECONDS: String(5 / SPEED),
  });
  webhooks = new WebhookSender(demo.world, { autoDisable: "current" });
  webhooks.addHook({ url: `${exporter.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
  alertmanager = await startingAlertmanager;
  const startingPrometheus = startPrometheus({ ruleFiles: await rendering, alertmanagerUrl: alertmanager.url, targets: [{ job: "gitlab-ci-k8s-exporter", url: `${exporter.url}/metrics` }] });
  await waitFor(exporter, "/readyz", 30_000);
  prometheus = await startingPrometheus;
  await eventually(async () => {
    const up = (await (await fetch(`${prometheus.url}/api/v1/query?query=up`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    if (up.data.result[0]?.value[1] !== "1") throw new Error("the exporter is not scraped yet");
  }, 15_000, 100);

  day = new DemoDay(demo, { announce: (line) => announced.push(line) });
  day.start();
}, 90_000);

afterAll(async () => {
  day?.stop();
  demo.fleet.dispose();
  await Promise.allSettled([prometheus?.stop(), alertmanager?.stop()]);
  webhooks?.detach();
  await exporter?.kill();
  await Promise.allSettled([gitlab?.close(), kube?.close()]);
  await new Promise((resolve) => receiver?.close(resolve));
  if (kubeconfigDir) await rm(kubeconfigDir, { recursive: true, force: true });
});

describe("the demo's day, in a real Prometheus", () => {
  it("fires each incident's alerts while it lasts and resolves them after it ends; the baseline pages for nothing", async () => {
    const report = () => [...new Set(notified.map((n) => n.labels.alertname!))].map((alert) => `${alert}: ${JSON.stringify(episodes(alert).map((e) => [Math.round(e.fired), e.resolved === undefined ? null : Math.round(e.resolved)]))}`);
    // The day plays to its last page's resolution and a little quiet after.
    await eventually(
      () => expect(EXPECTED.every(({ alert }) => episodes(alert).at(-1)?.resolved !== undefined), `fired (day minutes): ${report().join("; ")}`).toBe(true),
      (DAY_MINUTES * 60_000) / SPEED + 15_000,
      500,
    );
    await new Promise((resolve) => setTimeout(resolve, day.ms(4)));

    const context = `${report().join("\n")}\n${announced.join("")}`;
    expect(announced.filter((line) => / (starts|ends): /.test(line)), context).toHaveLength(2 * INCIDENTS.length);
    for (const { alert, incident } of EXPECTED) {
      const fired = episodes(alert);
      const end = incident.atMinute + incident.minutes;
      // Once, while the incident lasts (the half-minute wave: as soon as a scrape and the rules see it).
      expect(fired, `${alert}\n${context}`).toHaveLength(1);
      expect(fired[0]!.fired, `${alert} fired\n${context}`).toBeGreaterThanOrEqual(incident.atMinute);
      expect(fired[0]!.fired, `${alert} fired\n${context}`).toBeLessThanOrEqual(incident.minutes > LAG_MINUTES ? end : end + LAG_MINUTES);
      expect(fired[0]!.resolved, `${alert} resolved\n${context}`).toBeGreaterThanOrEqual(end);
      expect(fired[0]!.resolved, `${alert} resolved\n${context}`).toBeLessThanOrEqual(end + RESOLVES_WITHIN_MINUTES[alert]!);
    }
    // The baseline before the first incident: no CI alert was even pending (the exporter's own
    // alerts aside: its first GitLab sync is still under way as the day starts).
    const firstIncident = Math.min(...INCIDENTS.map((i) => i.atMinute));
    const baselineEndMs = day.startedAtMs + day.ms(firstIncident);
    const baseline = await queryAt(`max_over_time(ALERTS{alertname!~"GitLabCIExporter.*"}[${Math.floor(day.ms(firstIncident))}ms])`, baselineEndMs);
    expect(baseline.map((r) => `${r.metric.alertname} ${r.metric.alertstate}`), context).toEqual([]);
    // The exporter took every delivery of the day.
    expect(webhooks.everDisabled(), `${exporter.output().slice(-2000)}`).toEqual([]);
    expect(webhooks.stats.failed).toBe(0);
    // The stuck queue's longest waits come near the queued-too-long threshold: on a slow machine,
    // where the backlog drains later, that page may fire too, but only for the stuck queue.
    const stuck = INCIDENTS.find((i) => i.name === "stuck queue")!;
    for (const { fired, resolved } of episodes("GitLabCIJobQueuedTooLong")) {
      expect(fired, `GitLabCIJobQueuedTooLong fired\n${context}`).toBeGreaterThanOrEqual(stuck.atMinute);
      expect(resolved, `GitLabCIJobQueuedTooLong resolved\n${context}`).toBeLessThanOrEqual(stuck.atMinute + stuck.minutes + 5 + LAG_MINUTES);
    }
    // Nothing else fired all day: not in the baseline before the first incident, not between them.
    const others = [...new Set(notified.map((n) => n.labels.alertname))].filter((name) => name !== "GitLabCIJobQueuedTooLong" && !EXPECTED.some((e) => e.alert === name));
    expect(others, context).toEqual([]);
  }, 120_000);

  it("scales the spot fleet up again after the wave and after the stuck queue", async () => {
    const series = await spotNodesOverTime();
    const context = JSON.stringify(series.map(([m, n]) => [Math.round(m), n]));
    for (const incident of INCIDENTS.filter((i) => i.name !== "system-failure burst")) {
      // The fewest nodes from the incident's start to a while after its end, then more.
      const end = incident.atMinute + incident.minutes;
      const around = series.filter(([m]) => m >= incident.atMinute && m < end + LAG_MINUTES);
      const [lowAt, low] = around.reduce((a, b) => (b[1] < a[1] ? b : a));
      const later = series.filter(([m]) => m > lowAt && m < end + 15).map(([, n]) => n);
      expect(Math.max(...later), `${incident.name}: ${context}`).toBeGreaterThan(low);
    }
  });
});
