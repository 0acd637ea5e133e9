import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { freePort } from "./exporter-process.js";

/** The first of the given commands found on PATH (Debian names Alertmanager `prometheus-alertmanager`). */
export function findCommand(...names: string[]): string {
  for (const name of names) if (spawnSync("sh", ["-c", `command -v ${name}`]).status === 0) return name;
  throw new Error(`none of ${names.join(", ")} is installed: run .ci/run, which installs the Debian packages prometheus and prometheus-alertmanager`);
}

export interface Daemon {
  readonly url: string;
  readonly dir: string;
  output(): string;
  stop(): Promise<void>;
}

async function startDaemon(name: string, command: string, args: (dir: string, port: number) => string[], files: (dir: string) => Promise<void>, readyPath: string): Promise<Daemon> {
  const dir = await mkdtemp(path.join(tmpdir(), `${name}-`));
  await files(dir);
  const port = await freePort();
  const child: ChildProcess = spawn(command, args(dir, port), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const daemon: Daemon = {
    url,
    dir,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(url + readyPath).then((r) => r.ok, () => false);
    if (ready) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop();
      throw new Error(`${name} did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A real Alertmanager on loopback, clustering off, delivering to the given webhook: firing alerts and, once they end, resolved ones. */
export function startAlertmanager(webhookUrl: string): Promise<Daemon> {
  const config = {
    route: { receiver: "test", group_by: ["alertname"], group_wait: "1s", group_interval: "1s", repeat_interval: "1h" },
    receivers: [{ name: "test", webhook_configs: [{ url: webhookUrl, send_resolved: true }] }],
  };
  return startDaemon(
    "alertmanager",
    findCommand("prometheus-alertmanager", "alertmanager"),
    (dir, port) => [`--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="],
    (dir) => writeFile(path.join(dir, "alertmanager.yml"), stringify(config)),
    "/-/ready",
  );
}

export interface ScrapeTarget {
  readonly job: string;
  readonly url: string;
  /** Target labels, as service discovery and relabelling would set them. */
  readonly labels?: Record<string, string>;
  /** `honor_labels` of the target's job: true unless told (targets of one job must agree). */
  readonly honorLabels?: boolean;
  /** `metric_relabel_configs` of the target's job (targets of one job must agree). */
  readonly metricRelabelConfigs?: ReadonlyArray<Record<string, unknown>>;
}

/** One scrape config per job; each target its own static config, its path as `__metrics_path__`. */
function scrapeConfigs(targets: readonly ScrapeTarget[]) {
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const target of targets) jobs.set(target.job, [...(jobs.get(target.job) ?? []), target]);
  return [...jobs].map(([job, members]) => ({
    job_name: job,
    honor_labels: members[0]!.honorLabels ?? true,
    ...(members[0]!.metricRelabelConfigs ? { metric_relabel_configs: members[0]!.metricRelabelConfigs } : {}),
    static_configs: members.map((target) => {
      const url = new URL(target.url);
      return { targets: [url.host], labels: { ...target.labels, __metrics_path__: url.pathname } };
    }),
  }));
}

/**
 * A real Prometheus on loopback: scrapes and evaluates every second, loads the given rule files
 * and sends alerts to the Alertmanager, re-sending each second.
 */
export function startPrometheus(options: { targets: readonly ScrapeTarget[]; ruleFiles: ReadonlyMap<string, string>; alertmanagerUrl?: string }): Promise<Daemon> {
  return startDaemon(
    "prometheus",
    findCommand("prometheus"),
    (dir, port) => [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--rules.alert.resend-delay=1s",
    ],
    async (dir) => {
      const ruleFiles: string[] = [];
      for (const [name, content] of options.ruleFiles) {
        const file = path.join(dir, path.basename(name));
        await writeFile(file, content);
        ruleFiles.push(file);
      }
      const config = {
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: ruleFiles,
        ...(options.alertmanagerUrl ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(options.alertmanagerUrl).host] }] }] } } : {}),
        scrape_configs: scrapeConfigs(options.targets),
      };
      await writeFile(path.join(dir, "prometheus.yml"), stringify(config));
    },
    "/-/ready",
  );
}

export interface QueryResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An instant query, at `atSeconds` (Unix seconds) or now. */
export async function query(prometheus: Daemon, promql: string, atSeconds?: number): Promise<QueryResult[]> {
  const time = atSeconds === undefined ? "" : `&time=${atSeconds}`;
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}${time}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: QueryResult[] } };
  if (body.status !== "success") throw new Error(`${promql}: ${body.error}`);
  return body.data.result;
}

export interface RangeResult {
  readonly metric: Record<string, string>;
  readonly values: Array<[number, string]>;
}

/** A range query from `startSeconds` to `endSeconds` (Unix seconds), a point every `stepSeconds`. */
export async function queryRange(prometheus: Daemon, promql: string, startSeconds: number, endSeconds: number, stepSeconds = 1): Promise<RangeResult[]> {
  const params = new URLSearchParams({ query: promql, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds) });
  const response = await fetch(`${prometheus.url}/api/v1/query_range?${params}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: RangeResult[] } };
  if (body.status !== "success") throw new Error(`${promql}: ${body.error}`);
  return body.data.result;
}

/** The values `label` takes among the series `selector` selects between the times given (Grafana's label_values). */
export async function labelValues(prometheus: Daemon, label: string, selector: string, startSeconds: number, endSeconds: number): Promise<string[]> {
  const params = new URLSearchParams({ "match[]": selector, start: String(startSeconds), end: String(endSeconds) });
  const response = await fetch(`${prometheus.url}/api/v1/label/${encodeURIComponent(label)}/values?${params}`);
  const body = (await response.json()) as { status: string; error?: string; data: string[] };
  if (body.status !== "success") throw new Error(`label_values(${selector}, ${label}): ${body.error}`);
  return body.data;
}

/** The label names the series of `metric` carry between the times given. */
export async function labelNamesOf(prometheus: Daemon, metric: string, startSeconds: number, endSeconds: number): Promise<Set<string>> {
  const params = new URLSearchParams({ "match[]": metric, start: String(startSeconds), end: String(endSeconds) });
  const response = await fetch(`${prometheus.url}/api/v1/series?${params}`);
  const body = (await response.json()) as { status: string; error?: string; data: Array<Record<string, string>> };
  if (body.status !== "success") throw new Error(`series ${metric}: ${body.error}`);
  return new Set(body.data.flatMap((series) => Object.keys(series)));
}
