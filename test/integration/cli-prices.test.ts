import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

function runCli(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cli did not exit; stderr: ${stderr}`));
    }, 40_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("a bad price table", () => {
  it("stops the exporter with exit code 2 and one line naming KUBE_NODE_PRICES_FILE", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "cli-prices-")), "prices.yaml");
    writeFileSync(path, "currency: USD\ninstanceTypes:\n  c5a.2xlarge: { ondemand: 0.308, spot: 0.1201 }\n");
    const result = await runCli({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "secret-token-value", GITLAB_PROJECTS: "a/b", KUBE_NODE_PRICES_FILE: path });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^invalid configuration: KUBE_NODE_PRICES_FILE=".*prices\.yaml": expected a price table with currency and instanceTypes: instanceTypes\["c5a\.2xlarge"\]/);
    expect(lines[0]).toContain('"ondemand"');
    expect(result.stdout).toBe("");
  }, 45_000);
});
