import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The rule files `npm run mixin` renders from mixin/, as a user would load them. */
const RULE_FILES = ["gitlab-ci-alerts.yaml", "gitlab-ci-rules.yaml"].map((name) => resolve(dirname(fileURLToPath(import.meta.url)), "../../rules", name));
/** The scrape job the mixin's selectors expect (`job="gitlab-ci-k8s-exporter"`). */
const SCRAPE_JOB = "gitlab-ci-k8s-exporter";
const PREFERRED_PORT = 9090;
const READY_TIMEOUT_MS = 30_000;

export interface DemoPrometheus {
  readonly url: string;
  /** Its configuration and data, removed by `stop`. */
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Prometheus (the `prometheus` on PATH, as Debian's package installs it) on
 * loopback, port 9090 or a free one, scraping the exporter every 5 s and evaluating the rules of
 * `rules/` every 5 s; its data lives in a temporary directory removed by `stop`. Rejects with a
 * one-line reason when Prometheus is missing or does not become ready.
 */
export async function startDemoPrometheus(exporterUrl: string): Promise<DemoPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "gitlab-ci-k8s-exporter-demo-prometheus-"));
  const port = await portOrFree(PREFERRED_PORT);
  await writeFile(join(dir, "prometheus.yml"), config(new URL(exporterUrl).host));
  const child = spawn(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let lastLine = "";
  child.stderr.on("data", (chunk: Buffer) => (lastLine = chunk.toString().trim().split("\n").at(-1) ?? lastLine));
  const failed = new Promise<string>((done) => {
    child.once("error", (error) => done((error as NodeJS.ErrnoException).code === "ENOENT" ? "prometheus is not installed (on Debian: apt-get install prometheus)" : error.message));
    child.once("exit", (code) => done(`prometheus exited with ${code}: ${lastLine}`));
  });
  const exited = new Promise<void>((done) => child.once("close", () => done()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5000))]);
    await rm(dir, { recursive: true, force: true });
  };
  const outcome = await Promise.race([failed.then((reason) => ({ reason })), ready(url, () => child.exitCode !== null || child.pid === undefined)]);
  if (outcome === "ready") return { url, dir, stop };
  const reason = outcome === "gone" ? await failed : outcome === "timeout" ? `prometheus did not become ready within ${READY_TIMEOUT_MS / 1000} s` : outcome.reason;
  await stop();
  throw new Error(reason);
}

function config(target: string): string {
  // JSON is YAML: no YAML writer needed for a file this small.
  return JSON.stringify({
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    rule_files: RULE_FILES,
    scrape_configs: [{ job_name: SCRAPE_JOB, honor_labels: true, static_configs: [{ targets: [target] }] }],
  });
}

/** Once `/-/ready` answers 200; or the process is gone; or the timeout passed. */
async function ready(url: string, gone: () => boolean): Promise<"ready" | "gone" | "timeout"> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone()) return "gone";
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return "ready";
    await new Promise((done) => setTimeout(done, 200));
  }
  return "timeout";
}

/** `port` when nothing listens on it on loopback, else a free one. */
function portOrFree(port: number): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", () => (port === 0 ? fail(new Error("no free port")) : done(portOrFree(0))));
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => done(bound));
    });
  });
}
