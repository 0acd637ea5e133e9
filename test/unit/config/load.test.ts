import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { BASE_ENV, configErrorOf } from "../../helpers/config.js";

const base = BASE_ENV;
const errorOf = configErrorOf;

describe("loadConfig", () => {
  it("applies documented defaults", () => {
    const config = loadConfig(base);
    expect(config.gitlab.url).toBe("https://gitlab.example.com");
    expect(config.gitlab.pollIntervalMs).toBe(30_000);
    expect(config.gitlab.maxRequestsPerSecond).toBe(5);
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 9863 });
    expect(config.logLevel).toBe("info");
    expect(config.webhook.secret).toBeNull();
    expect(config.gitlab.token.value()).toBe("glpat-secret-value");
  });

  it("reads the label value cap, 512 bytes by default and never below 256", () => {
    expect(loadConfig(base).labelValueMaxBytes).toBe(512);
    expect(loadConfig({ ...base, LABEL_VALUE_MAX_BYTES: "1024" }).labelValueMaxBytes).toBe(1024);
    expect(errorOf(() => loadConfig({ ...base, LABEL_VALUE_MAX_BYTES: "64" })).setting).toBe("LABEL_VALUE_MAX_BYTES");
  });

  it("splits project and group lists and trims /api/v4 from the URL", () => {
    const config = loadConfig({ ...base, GITLAB_URL: "https://gitlab.example.com/api/v4/", GITLAB_PROJECTS: " a/b , 42,", GITLAB_GROUPS: "acme" });
    expect(config.gitlab.url).toBe("https://gitlab.example.com");
    expect(config.gitlab.projects).toEqual(["a/b", "42"]);
    expect(config.gitlab.groups).toEqual(["acme"]);
  });

  it("names the setting, the value and what was expected", () => {
    const error = errorOf(() => loadConfig({ ...base, GITLAB_URL: "not a url" }));
    expect(error.message).toBe('invalid configuration: GITLAB_URL="not a url": expected an absolute http(s) URL such as https://gitlab.example.com');
    expect(error.message.split("\n")).toHaveLength(1);
  });

  it.each([
    ["GITLAB_POLL_INTERVAL_SECONDS", "soon"],
    ["GITLAB_POLL_INTERVAL_SECONDS", "0"],
    ["GITLAB_MAX_CONCURRENT_REQUESTS", "2.5"],
    ["LISTEN_ADDRESS", "localhost"],
    ["LISTEN_ADDRESS", ":70000"],
    ["LOG_LEVEL", "loud"],
  ])("rejects %s=%s", (name, value) => {
    const error = errorOf(() => loadConfig({ ...base, [name]: value }));
    expect(error.setting).toBe(name);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it("reads up to 64 MiB of webhook bodies at once by default, and refuses less than one body's limit", () => {
    expect(loadConfig(base).webhook.maxInflightBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ ...base, GITLAB_WEBHOOK_MAX_BODY_BYTES: "1048576", GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES: "1048576" }).webhook.maxInflightBytes).toBe(1048576);
    const error = errorOf(() => loadConfig({ ...base, GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES: "10485760" }));
    expect(error.setting).toBe("GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES");
    expect(error.message).toBe("invalid configuration: GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES=10485760: expected at least GITLAB_WEBHOOK_MAX_BODY_BYTES (26214400)");
  });

  it.each(["1", "yes", "on", "0", "no"])("takes only true or false for GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED, not %j", (value) => {
    const error = errorOf(() => loadConfig({ ...base, GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED: value }));
    expect(error.setting).toBe("GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED");
    expect(error.message).toBe(`invalid configuration: GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED=${JSON.stringify(value)}: expected true or false`);
  });

  it("reads true and false in any case", () => {
    expect(loadConfig({ ...base, GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED: "TRUE" }).webhook.allowUnauthenticated).toBe(true);
    expect(loadConfig({ ...base, GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED: " False " }).webhook.allowUnauthenticated).toBe(false);
    expect(loadConfig({ ...base, KUBE_ENABLED: "False" }).kube.enabled).toBe(false);
  });

  it("requires a token and at least one project or group", () => {
    expect(errorOf(() => loadConfig({ ...base, GITLAB_TOKEN: undefined })).setting).toBe("GITLAB_TOKEN");
    expect(errorOf(() => loadConfig({ ...base, GITLAB_PROJECTS: "" })).setting).toBe("GITLAB_PROJECTS");
    expect(errorOf(() => loadConfig({ GITLAB_TOKEN: "x", GITLAB_PROJECTS: "a/b" })).setting).toBe("GITLAB_URL");
  });

  it("never shows a secret in an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const error = errorOf(() => loadConfig({ ...base, GITLAB_TOKEN_FILE: join(dir, "token") }));
    expect(error.setting).toBe("GITLAB_TOKEN_FILE");
    expect(error.message).not.toContain("glpat-secret-value");
  });

  it("reads secrets from files and re-reads them when they change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "first\n");
    const config = loadConfig({ ...base, GITLAB_TOKEN: undefined, GITLAB_TOKEN_FILE: tokenFile, GITLAB_WEBHOOK_SECRET: "hook" });
    expect(config.gitlab.token.value()).toBe("first");
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(tokenFile, "second\n");
    expect(config.gitlab.token.value()).toBe("second");
    expect(config.webhook.secret?.value()).toBe("hook");
  });

  it("reads a YAML file given by --config, overridden by the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "GITLAB_URL: https://gitlab.internal\nGITLAB_TOKEN: t\nGITLAB_GROUPS: [acme, tools]\nGITLAB_POLL_INTERVAL_SECONDS: 15\n");
    const config = loadConfig({ GITLAB_POLL_INTERVAL_SECONDS: "20" }, ["--config", file]);
    expect(config.gitlab.url).toBe("https://gitlab.internal");
    expect(config.gitlab.groups).toEqual(["acme", "tools"]);
    expect(config.gitlab.pollIntervalMs).toBe(20_000);
  });

  it("rejects unknown keys in the YAML file", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "GITLAB_URL: https://gitlab.internal\nGITLAB_PROJECT: a/b\n");
    const error = errorOf(() => loadConfig({ CONFIG_FILE: file }));
    expect(error.message).toContain('"GITLAB_PROJECT"');
  });
});

describe("secrets and credentials fail closed", () => {
  const secretSettings = ["GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET", "METRICS_BEARER_TOKEN", "METRICS_BASIC_AUTH_PASSWORD"];
  const fileSettings = secretSettings.map((name) => `${name}_FILE`);

  it.each([...secretSettings, ...fileSettings].flatMap((name) => [[name, ""], [name, "   "], [name, "\t\n"]]))("refuses %s=%j from the environment, naming the setting", (name, value) => {
    const error = errorOf(() => loadConfig({ ...base, [name]: value }));
    expect(error.setting).toBe(name);
    expect(error.message).toBe(`invalid configuration: ${name} is set but blank: expected a non-empty value, or the setting removed`);
  });

  it.each(["METRICS_BEARER_TOKEN: \"   \"\n", "METRICS_BEARER_TOKEN: \"\"\n", "METRICS_BEARER_TOKEN:\n"])("refuses a blank secret from the file: %j", (line) => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, line);
    expect(errorOf(() => loadConfig(base, ["--config", file])).setting).toBe("METRICS_BEARER_TOKEN");
  });

  it("refuses a blank environment value over a secret set in the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "METRICS_BEARER_TOKEN: scrape-me\n");
    expect(loadConfig(base, ["--config", file]).web.bearerToken?.value()).toBe("scrape-me");
    expect(errorOf(() => loadConfig({ ...base, METRICS_BEARER_TOKEN: " " }, ["--config", file])).setting).toBe("METRICS_BEARER_TOKEN");
  });

  it("still takes an empty non-secret variable as unset", () => {
    const config = loadConfig({ ...base, GITLAB_POLL_INTERVAL_SECONDS: "", METRICS_BASIC_AUTH_USERNAME: "", LOG_LEVEL: "", GITLAB_GROUPS: "" });
    expect(config.gitlab.pollIntervalMs).toBe(30_000);
    expect(config.web.basicAuth).toBeNull();
    expect(config.logLevel).toBe("info");
  });

  it.each([
    ["https://alice:s3cr3t-pass@gitlab.example.com", "https://***@gitlab.example.com"],
    ["https://glpat-abcdef@gitlab.example.com/api/v4", "https://***@gitlab.example.com/api/v4"],
    ["https://alice:pa/ss@gitlab.example.com", "https://***@gitlab.example.com"],
    ["alice:s3cr3t-pass@gitlab.example.com", "***@gitlab.example.com"],
  ])("refuses user information in GITLAB_URL (%s) without showing it", (url, shown) => {
    const error = errorOf(() => loadConfig({ ...base, GITLAB_URL: url }));
    expect(error.setting).toBe("GITLAB_URL");
    expect(error.message).toContain(JSON.stringify(shown));
    expect(error.message.split("\n")).toHaveLength(1);
    for (const part of ["alice", "s3cr3t", "glpat", "pa/ss"]) expect(error.message).not.toContain(part);
  });

  it("reads the HTTP limits, and keeps the headers timeout within the request timeout", () => {
    expect(loadConfig(base).http).toEqual({ maxConnections: 256, headersTimeoutMs: 10_000, requestTimeoutMs: 120_000, idleTimeoutMs: 72_000 });
    const tight = loadConfig({ ...base, HTTP_MAX_CONNECTIONS: "32", HTTP_HEADERS_TIMEOUT_SECONDS: "2", HTTP_REQUEST_TIMEOUT_SECONDS: "30", HTTP_IDLE_TIMEOUT_SECONDS: "5" }).http;
    expect(tight).toEqual({ maxConnections: 32, headersTimeoutMs: 2000, requestTimeoutMs: 30_000, idleTimeoutMs: 5000 });
    expect(errorOf(() => loadConfig({ ...base, HTTP_HEADERS_TIMEOUT_SECONDS: "60", HTTP_REQUEST_TIMEOUT_SECONDS: "30" })).setting).toBe("HTTP_HEADERS_TIMEOUT_SECONDS");
    expect(errorOf(() => loadConfig({ ...base, HTTP_MAX_CONNECTIONS: "2" })).setting).toBe("HTTP_MAX_CONNECTIONS");
  });

  it("reads the shutdown grace period, 10 s by default, 0 allowed, never negative", () => {
    expect(loadConfig(base).shutdownGraceMs).toBe(10_000);
    expect(loadConfig({ ...base, SHUTDOWN_GRACE_SECONDS: "0" }).shutdownGraceMs).toBe(0);
    expect(loadConfig({ ...base, SHUTDOWN_GRACE_SECONDS: "2.5" }).shutdownGraceMs).toBe(2500);
    expect(errorOf(() => loadConfig({ ...base, SHUTDOWN_GRACE_SECONDS: "-1" })).setting).toBe("SHUTDOWN_GRACE_SECONDS");
  });
});
