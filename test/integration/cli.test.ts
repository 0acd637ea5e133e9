import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

function runCli(env: Record<string, string>, args: string[] = [], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cli did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("gitlab-ci-k8s-exporter command", () => {
  it("refuses to start on a bad setting, naming it in one line", async () => {
    const result = await runCli({ GITLAB_URL: "not a url", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b" });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('GITLAB_URL="not a url"');
    expect(result.stderr + result.stdout).not.toContain("secret-token-value");
  });

  it("refuses to start when a required setting is missing", async () => {
    const result = await runCli({ GITLAB_URL: "https://gitlab.example.com", GITLAB_PROJECTS: "a/b" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("GITLAB_TOKEN is not set");
  });

  it("names a bad --config file", async () => {
    const result = await runCli({}, ["--config", "/nonexistent/config.yaml"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("CONFIG_FILE");
  });
  it.each(["METRICS_BEARER_TOKEN", "GITLAB_WEBHOOK_SECRET_FILE"])("refuses a blank %s in one line", async (name) => {
    const result = await runCli({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b", [name]: "   " }, [], 40_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([`invalid configuration: ${name} is set but blank: expected a non-empty value, or the setting removed`]);
    expect(result.stdout).toBe("");
  }, 45_000);

  it("refuses a GITLAB_URL with user:password@ without printing either", async () => {
    const result = await runCli({ GITLAB_URL: "https://deploy-user:hunter2-password@gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b" }, [], 40_000);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('GITLAB_URL="https://***@gitlab.example.com"');
    for (const secret of ["deploy-user", "hunter2", "secret-token-value"]) expect(result.stderr + result.stdout).not.toContain(secret);
  }, 45_000);

  it("refuses auto-sharding without the pod's namespace, in one line, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-shard-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n");
    const result = await runCli({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b", KUBECONFIG: kubeconfig, SHARD: "auto", TOTAL_SHARDS: "auto", POD_NAME: "exporter-1" }, [], 40_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^invalid configuration: POD_NAMESPACE is not set/)]);
  }, 45_000);
});
