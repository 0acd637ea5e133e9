import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { startExporter, type RunningExporter } from "../../src/main.js";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };

const TOKEN = "glpat-never-in-logs-0123456789";
let running: Array<RunningExporter | GitLabSimulator> = [];
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
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
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

describe("webhook authentication", () => {
  const deliver = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/webhooks/gitlab`, { method: "POST", headers: { "content-type": "application/json", "x-gitlab-event": "Job Hook", ...headers }, body: JSON.stringify(jobHook) });

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

describe("secrets", () => {
  it("never appear in logs, errors or /metrics, even through a faulty run", async () => {
    const lines: string[] = [];
    const world = new GitLabWorld();
    world.addProject("acme/api");
    const gitlab = await startGitLabSimulator({ world, token: TOKEN });
    running.push(gitlab);
    const config = loadConfig({
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN: TOKEN,
      GITLAB_GROUPS: "acme,missing-group",
      GITLAB_PROJECTS: "acme/does-not-exist",
      GITLAB_WEBHOOK_SECRET: "hook-secret-never-logged",
      METRICS_BEARER_TOKEN: "metrics-token-never-logged",
      GITLAB_POLL_INTERVAL_SECONDS: "0.1",
      GITLAB_REQUEST_TIMEOUT_SECONDS: "0.3",
      LISTEN_ADDRESS: "127.0.0.1:0",
      LOG_LEVEL: "trace",
      KUBE_ENABLED: "false",
    });
    gitlab.faults.status(500, { count: 3 });
    const exporter = await startExporter(config, pino({ level: "trace" }, { write: (line: string) => lines.push(line) }));
    running.push(exporter);
    await fetch(`${exporter.url}/webhooks/gitlab`, { method: "POST", headers: { "x-gitlab-token": "guess", "x-gitlab-event": "Job Hook" }, body: "{}" });
    gitlab.faults.hang({ count: 2 });
    gitlab.faults.malformedJson({ count: 2 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const metrics = await (await fetch(`${exporter.url}/metrics`, { headers: { authorization: "Bearer metrics-token-never-logged" } })).text();
    const everything = lines.join("") + metrics;
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [TOKEN, "hook-secret-never-logged", "metrics-token-never-logged"]) expect(everything).not.toContain(secret);
  });
});
