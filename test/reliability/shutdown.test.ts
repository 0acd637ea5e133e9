import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { parseMetrics } from "../helpers/prom.js";

const root = new URL("../../", import.meta.url).pathname;
const TOKEN = "shutdown-token";
let sim: GitLabSimulator | undefined;
let child: ChildProcess | undefined;

afterEach(async () => {
  child?.kill("SIGKILL");
  await sim?.close();
});

async function startCli(): Promise<{ url: string; exited: Promise<number | null> }> {
  const world = new GitLabWorld();
  for (let i = 0; i < 50; i++) {
    const project = world.addProject(`acme/svc-${i}`);
    for (let j = 0; j < 20; j++) world.createJob(project.id, { name: `job-${j}`, tags: [`tag-${j % 5}`], status: "pending" });
  }
  sim = await startGitLabSimulator({ world, token: TOKEN });
  const port = 20000 + Math.floor(Math.random() * 20000);
  child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", GITLAB_URL: sim.url, GITLAB_TOKEN: TOKEN, GITLAB_GROUPS: "acme", LISTEN_ADDRESS: `127.0.0.1:${port}`, GITLAB_POLL_INTERVAL_SECONDS: "0.2", GITLAB_MAX_REQUESTS_PER_SECOND: "100", LOG_LEVEL: "warn", KUBE_ENABLED: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return { url, exited };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("exporter did not become ready");
}

describe("graceful shutdown on SIGTERM", () => {
  it("finishes scrapes in flight, never sends half a response, and exits 0 within 5 s", async () => {
    const { url, exited } = await startCli();
    const scrape = () =>
      fetch(`${url}/metrics`).then(
        async (response) => ({ status: response.status, body: await response.text() }),
        () => ({ status: 0, body: "" }),
      );
    // A steady stream of scrapes, with the signal landing in the middle of it.
    const scrapes: Array<ReturnType<typeof scrape>> = [];
    for (let i = 0; i < 10; i++) {
      scrapes.push(scrape());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    for (let i = 0; i < 10; i++) {
      scrapes.push(scrape());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    let complete = 0;
    for (const result of await Promise.all(scrapes)) {
      if (result.status !== 200) {
        // Refused or told the server is closing; never a truncated 200.
        expect([0, 503]).toContain(result.status);
        continue;
      }
      complete++;
      expect(result.body.endsWith("\n")).toBe(true);
      const samples = parseMetrics(result.body);
      expect(samples.some((s) => s.name === "gitlab_ci_exporter_build_info")).toBe(true);
      expect(samples.filter((s) => s.name === "gitlab_ci_jobs_pending").length).toBeGreaterThan(0);
    }
    expect(complete).toBeGreaterThan(0);
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5000);
  });

  it("exits 0 within 5 s while a poll waits on a GitLab that does not answer", async () => {
    const { exited } = await startCli();
    sim!.faults.hang();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5000);
  });
});
