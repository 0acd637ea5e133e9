import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { startExporter, type RunningExporter } from "../../src/main.js";
import { GitLabWorld, startGitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { buildSpotNode, KubeWorld, startKubeSimulator } from "../../src/simulator/kube/index.js";
import { eventually, parseMetrics, sum, type Sample } from "../helpers/prom.js";
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };

const TOKEN = "glpat-never-in-logs-0123456789";
let running: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.close()));
  running = [];
});

async function exporterWith(env: Record<string, string>, logLines?: string[]): Promise<RunningExporter> {
  const world = new GitLabWorld();
  world.addProject("gitlab-org/gitlab-test", { id: 380 });
  const gitlab = await startGitLabSimulator({ world, token: TOKEN });
  running.push(gitlab);
  const config = loadConfig({ GITLAB_URL: gitlab.url, GITLAB_TOKEN: TOKEN, GITLAB_GROUPS: "gitlab-org", LISTEN_ADDRESS: "127.0.0.1:0", LOG_LEVEL: "debug", KUBE_ENABLED: "false", ...env });
  const stream = { write: (line: string) => logLines?.push(line) };
  const exporter = await startExporter(config, pino({ level: "debug" }, stream));
  running.push(exporter);
  return exporter;
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

describe("protecting /metrics", () => {
  it("requires the bearer token when one is configured, and keeps probes open", async () => {
    const exporter = await exporterWith({ METRICS_BEARER_TOKEN: "scrape-me" });
    expect((await fetch(`${exporter.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: "Bearer scrape-me" } })).status).toBe(200);
    // RFC 7235: the scheme is case-insensitive.
    for (const scheme of ["bearer", "BEARER", "beArer"]) expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: `${scheme} scrape-me` } })).status, scheme).toBe(200);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: "Basic scrape-me" } })).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: "Bearerscrape-me" } })).status).toBe(401);
    expect((await fetch(`${exporter.url}/healthz`)).status).toBe(200);
  });

  it("requires basic auth when configured", async () => {
    const exporter = await exporterWith({ METRICS_BASIC_AUTH_USERNAME: "prometheus", METRICS_BASIC_AUTH_PASSWORD: "pa:ss" });
    expect((await fetch(`${exporter.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: basic("prometheus", "nope") })).status).toBe(401);
    expect((await fetch(`${exporter.url}/metrics`, { headers: basic("prometheus", "pa:ss") })).status).toBe(200);
    const encoded = Buffer.from("prometheus:pa:ss").toString("base64");
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: `basic ${encoded}` } })).status).toBe(200);
    expect((await fetch(`${exporter.url}/metrics`, { headers: { authorization: `Bearer ${encoded}` } })).status).toBe(401);
  });

  it("serves HTTPS with the configured certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tls-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1"], { stdio: "ignore" });
    const exporter = await exporterWith({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    expect(exporter.url.startsWith("https://")).toBe(true);
    const status = await new Promise<number>((resolve, reject) => {
      request(`${exporter.url}/healthz`, { ca: readFileSync(cert) }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(status).toBe(200);
  });
});

const deliver = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/webhooks/gitlab`, { method: "POST", headers: { "content-type": "application/json", "x-gitlab-event": "Job Hook", ...headers }, body: JSON.stringify(jobHook) });

describe("webhook authentication", () => {
  it("is disabled without a secret unless unauthenticated deliveries are allowed explicitly", async () => {
    const closed = await exporterWith({});
    expect((await deliver(closed.url)).status).toBe(404);
    const open = await exporterWith({ GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED: "true" });
    expect((await deliver(open.url)).status).toBe(200);
  });

  it("still requires the secret when one is set, even if unauthenticated deliveries are allowed", async () => {
    const exporter = await exporterWith({ GITLAB_WEBHOOK_SECRET: "s", GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED: "true" });
    expect((await deliver(exporter.url)).status).toBe(401);
    expect((await deliver(exporter.url, { "x-gitlab-token": "s" })).status).toBe(200);
  });
});

/** A secret file the exporter reads, and how a rotation replaces its content. */
interface SecretFile {
  readonly path: string;
  change(content: string): void;
}

/**
 * A Secret volume as the kubelet lays it out: `secret -> ..data/secret`, `..data -> ..<timestamp>`.
 * An update writes a new timestamped directory, points a temporary link at it, renames that link
 * over `..data` (one atomic step) and removes the old directory.
 */
function mountedSecret(content: string): SecretFile {
  const dir = mkdtempSync(join(tmpdir(), "secret-volume-"));
  running.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
  let version = 0;
  const writeVersion = (value: string) => {
    const name = `..2024_01_05_10_59_30.${String(++version).padStart(9, "0")}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, "secret"), value);
    symlinkSync(name, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    return name;
  };
  let current = writeVersion(content);
  symlinkSync(join("..data", "secret"), join(dir, "secret"));
  return {
    path: join(dir, "secret"),
    change(value) {
      const previous = current;
      current = writeVersion(value);
      rmSync(join(dir, previous), { recursive: true });
    },
  };
}

/** A regular file, rewritten in place. */
function plainSecret(content: string): SecretFile {
  const dir = mkdtempSync(join(tmpdir(), "secret-file-"));
  running.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
  const path = join(dir, "secret");
  writeFileSync(path, content);
  return { path, change: (value) => writeFileSync(path, value) };
}

/** The secrets checked on every request, each set from its file, and the status a request carrying `secret` gets. */
const secretFileSettings: Array<{ setting: string; env: Record<string, string>; status(url: string, secret: string): Promise<number> }> = [
  { setting: "GITLAB_WEBHOOK_SECRET_FILE", env: {}, status: (url, secret) => deliver(url, { "x-gitlab-token": secret }).then((r) => r.status) },
  { setting: "METRICS_BEARER_TOKEN_FILE", env: {}, status: (url, secret) => fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status) },
  { setting: "METRICS_BASIC_AUTH_PASSWORD_FILE", env: { METRICS_BASIC_AUTH_USERNAME: "prometheus" }, status: (url, secret) => fetch(`${url}/metrics`, { headers: basic("prometheus", secret) }).then((r) => r.status) },
];

describe.each(secretFileSettings)("$setting", ({ setting, env, status }) => {
  it.each([
    { how: "..data swapped in a Secret volume", file: mountedSecret },
    { how: "regular file rewritten in place", file: plainSecret },
  ])("takes the new secret and refuses the old one without a restart: $how", async ({ file }) => {
    const secret = file("first-secret\n");
    const exporter = await exporterWith({ ...env, [setting]: secret.path });
    expect(await status(exporter.url, "first-secret")).toBe(200);
    expect(await status(exporter.url, "second-secret")).toBe(401);

    for (const [previous, next] of [["first-secret", "second-secret"], ["second-secret", "third-secret"]] as const) {
      // The change is seen by its modification time, which may be as coarse as a scheduler tick.
      await new Promise((resolve) => setTimeout(resolve, 20));
      secret.change(`${next}\n`);
      expect(await status(exporter.url, next)).toBe(200);
      expect(await status(exporter.url, previous)).toBe(401);
    }
  });
});

const root = new URL("../../", import.meta.url).pathname;

/** Every way a secret could be shown: as it is, in the Authorization header's base64, URL-encoded. */
function spellings(secret: string, basicUser?: string): string[] {
  const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")];
  if (basicUser !== undefined) forms.push(Buffer.from(`${basicUser}:${secret}`).toString("base64"));
  return forms;
}

/**
 * The CLI in its own process through a faulty run, with every kind of secret configured: the
 * GitLab token from a `*_FILE` (first one GitLab refuses with 401, then rotated in place to the
 * right one), the webhook secret, a /metrics password or bearer token, and the Kubernetes
 * bearer token inside the kubeconfig. GitLab answers 401, then 500s, hangs and malformed JSON;
 * Kubernetes answers 500 on lists, drops its streams and sends an ERROR event. Everything the
 * process writes (stdout with the trace-level logs, stderr with any process warning) and every
 * HTTP answer it gives, headers and bodies, error answers included, is searched for them.
 */
async function faultyRun(metricsAuth: "basic" | "bearer"): Promise<{ seen: string; secrets: string[]; stdoutLines: number; samples: Sample[] }> {
  const dir = mkdtempSync(join(tmpdir(), "secrets-"));
  const staleToken = "glpat-revoked-token-never-shown-0001";
  const token = "glpat-current-token-never-shown-0002";
  const kubeToken = "kube-bearer-token-never-shown-0003";
  const hookSecret = "hook-secret-never-shown-0004";
  const metricsSecret = "metrics-secret-never-shown-0005";
  const tokenFile = join(dir, "gitlab-token");
  writeFileSync(tokenFile, `${staleToken}\n`);

  const world = new GitLabWorld();
  const api = world.addProject("acme/api");
  world.createJob(api.id, { name: "build", tags: ["docker"], status: "pending" });
  const gitlab = await startGitLabSimulator({ world, token });
  running.push(gitlab);
  const kubeWorld = new KubeWorld();
  kubeWorld.addNode(buildSpotNode({ name: "spot-a", nodegroup: "ci-spot", createdAt: new Date(Date.now() - 3_600_000) }));
  const kube = await startKubeSimulator({ world: kubeWorld, token: kubeToken, bookmarkIntervalMs: 200 });
  running.push(kube);
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kube.kubeconfig());
  expect(readFileSync(kubeconfig, "utf8")).toContain(kubeToken);
  kube.faults.failLists({ status: 500, count: 4 });

  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN_FILE: tokenFile,
      GITLAB_GROUPS: "acme,missing-group",
      GITLAB_PROJECTS: "acme/does-not-exist",
      GITLAB_WEBHOOK_SECRET: hookSecret,
      GITLAB_WEBHOOK_MAX_BODY_BYTES: "16384",
      ...(metricsAuth === "basic" ? { METRICS_BASIC_AUTH_USERNAME: "prometheus", METRICS_BASIC_AUTH_PASSWORD: metricsSecret } : { METRICS_BEARER_TOKEN: metricsSecret }),
      GITLAB_POLL_INTERVAL_SECONDS: "0.2",
      GITLAB_REQUEST_TIMEOUT_SECONDS: "0.3",
      KUBECONFIG: kubeconfig,
      KUBE_WATCH_STALL_SECONDS: "1",
      KUBE_RETRY_INITIAL_SECONDS: "0.05",
      KUBE_RETRY_MAX_SECONDS: "0.2",
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      LOG_LEVEL: "trace",
      SHUTDOWN_GRACE_SECONDS: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  running.push({ close: async () => void child.kill("SIGKILL") });
  onTestFailed(() => console.error(`exporter stdout:\n${stdout}\nexporter stderr:\n${stderr}`));

  // Every answer the exporter gives, as the client sees it: status line, headers and body.
  const answers: string[] = [];
  const url = `http://127.0.0.1:${port}`;
  const ask = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, init);
    const body = await response.text();
    answers.push(`${init.method ?? "GET"} ${path} ${response.status} ${JSON.stringify([...response.headers])}\n${body}`);
    return { status: response.status, body };
  };
  const credentials = metricsAuth === "basic" ? `Basic ${Buffer.from(`prometheus:${metricsSecret}`).toString("base64")}` : `Bearer ${metricsSecret}`;
  const scrape = async () => parseMetrics((await ask("/metrics", { headers: { authorization: credentials } })).body);
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) === 200) break;
    if (i > 200) throw new Error(`exporter did not start\n${stdout}${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  // GitLab refuses the stale token; Kubernetes fails its lists.
  await eventually(async () => expect(sum(await scrape(), "gitlab_ci_exporter_gitlab_requests_total", { code: "401" })).toBeGreaterThan(0), 10_000, 100);
  for (const authorization of [undefined, "Basic " + Buffer.from("prometheus:guess").toString("base64"), "Bearer guess", credentials.replace(/.$/, "x")]) {
    expect((await ask("/metrics", authorization ? { headers: { authorization } } : {})).status).toBe(401);
  }
  const deliver = (headers: Record<string, string>, body: string) => ask("/webhooks/gitlab", { method: "POST", headers: { "content-type": "application/json", "x-gitlab-event": "Job Hook", ...headers }, body });
  expect((await deliver({ "x-gitlab-token": "guess" }, JSON.stringify(jobHook))).status).toBe(401);
  // Authentic but unreadable: acknowledged (GitLab would disable a failing hook), counted.
  expect((await deliver({ "x-gitlab-token": hookSecret }, "{not json")).status).toBe(200);
  expect((await deliver({ "x-gitlab-token": hookSecret }, JSON.stringify({ ...jobHook, build_status: 42 }))).status).toBe(200);
  expect((await deliver({ "x-gitlab-token": hookSecret }, JSON.stringify({ ...jobHook, pad: "x".repeat(20_000) }))).status).toBe(200);
  expect((await deliver({ "x-gitlab-token": hookSecret }, JSON.stringify(jobHook))).status).toBe(200);
  for (const path of ["/", "/readyz", "/healthz", "/no-such-page"]) await ask(path);

  // The token is rotated in place; GitLab then fails in other ways, and Kubernetes too.
  writeFileSync(tokenFile, `${token}\n`);
  await eventually(async () => expect(sum(await scrape(), "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toBeGreaterThan(0), 15_000, 100);
  gitlab.faults.status(500, { count: 3 });
  gitlab.faults.hang({ count: 2 });
  gitlab.faults.malformedJson({ count: 2 });
  kube.faults.failLists({ status: 500, count: 3 });
  kube.faults.dropStreams();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  kube.faults.errorEvent(500, "InternalError");
  const samples = await eventually(
    async () => {
      const samples = await scrape();
      expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { code: "500" })).toBeGreaterThan(0);
      expect(sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total")).toBeGreaterThan(2);
      return samples;
    },
    15_000,
    100,
  );
  await ask("/readyz");

  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  rmSync(dir, { recursive: true, force: true });
  const secrets = [staleToken, token, kubeToken, hookSecret, ...spellings(metricsSecret, metricsAuth === "basic" ? "prometheus" : undefined), ...[staleToken, token, kubeToken, hookSecret].flatMap((secret) => spellings(secret))];
  return { seen: [stdout, stderr, ...answers].join("\n"), secrets: [...new Set(secrets)], stdoutLines: stdout.split("\n").length, samples };
}

describe("secrets", () => {
  it.each(["basic", "bearer"] as const)("never appear in stdout, stderr, warnings or any HTTP answer through a faulty run (/metrics with %s auth)", async (metricsAuth) => {
    const { seen, secrets, stdoutLines, samples } = await faultyRun(metricsAuth);
    // The run was faulty and talkative: refused and failed GitLab requests, Kubernetes restarts, trace logs.
    expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { code: "401" })).toBeGreaterThan(0);
    expect(sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total")).toBeGreaterThan(2);
    expect(stdoutLines).toBeGreaterThan(20);
    expect(seen).toContain('"msg":"GitLab request"');
    expect(seen).toContain("Kubernetes watch restarting");
    expect(seen).toContain("missing or wrong");
    for (const secret of secrets) expect(seen.includes(secret), `a form of a secret (${secret.slice(0, 6)}…) was shown`).toBe(false);
  }, 90_000);
});
