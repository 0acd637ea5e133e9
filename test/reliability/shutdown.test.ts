import type { ChildProcess } from "node:child_process";
import { request, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { afterAll, afterEach, describe, expect, it, onTestFailed } from "vitest";
import { GitLabWorld, jobHookBody, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { spawnExporter, waitFor } from "../helpers/exporter-process.js";
import { eventually, parseMetrics, sum } from "../helpers/prom.js";

const TOKEN = "shutdown-token";
const HOOK_SECRET = "shutdown-hook-secret";
let sim: GitLabSimulator | undefined;
let child: ChildProcess | undefined;

/** SIGTERM scenarios whose exporter exited 0 within the limit. */
const survived: string[] = [];

afterEach(async (context) => {
  child?.kill("SIGKILL");
  await sim?.close();
  if (context.task.result?.state === "pass") survived.push(context.task.name);
});

afterAll(() => {
  console.log(`Exporter faults: ${survived.length} SIGTERM scenarios passed (${survived.join("; ")})`);
});

/**
 * The CLI in its own process (built once, as in production: a loaded machine starts it in a
 * fraction of the time on-the-fly compilation takes); its output is shown if the test fails.
 */
async function startCli(world: GitLabWorld, extraEnv: Record<string, string> = {}): Promise<{ url: string; port: number; exited: Promise<number | null>; output: () => string }> {
  // Hot projects polled every 0.2 s: minutes compressed into seconds, GitLab's jobs limit lifted.
  sim = await startGitLabSimulator({ world, token: TOKEN, projectJobsRateLimitPerMinute: false });
  const exporter = await spawnExporter({ GITLAB_URL: sim.url, GITLAB_TOKEN: TOKEN, GITLAB_GROUPS: "acme", GITLAB_POLL_INTERVAL_SECONDS: "0.2", GITLAB_MAX_REQUESTS_PER_SECOND: "100", LOG_LEVEL: "info", KUBE_ENABLED: "false", LABEL_VALUE_MAX_BYTES: "4096", GITLAB_WEBHOOK_SECRET: HOOK_SECRET, SHUTDOWN_GRACE_SECONDS: "0", ...extraEnv });
  child = exporter.child;
  onTestFailed(() => console.error(`exporter output:\n${exporter.output() || "(none)"}`));
  const exited = exporter.exited.then(({ code, signal }) => code ?? (signal ? -1 : null));
  await waitFor(exporter, "/readyz", 30_000);
  return { url: exporter.url, port: exporter.port, exited, output: exporter.output };
}

function smallWorld(): GitLabWorld {
  const world = new GitLabWorld();
  for (let i = 0; i < 50; i++) {
    const project = world.addProject(`acme/svc-${i}`);
    for (let j = 0; j < 20; j++) world.createJob(project.id, { name: `job-${j}`, tags: [`tag-${j % 5}`], status: "pending" });
  }
  return world;
}

/**
 * An exposition of about 11 MiB: 2,400 pending jobs, each with its own long tag list. A client
 * that does not read takes only what the kernel's socket buffers hold (about 4 MiB on Linux by
 * default: the sender's buffer at most `tcp_wmem` max, the receiver's at its initial size while
 * nothing is read), so most of the scrape stays in the exporter's hands.
 * The exporter runs with LABEL_VALUE_MAX_BYTES=4096 so the long tag lists stay whole.
 */
const BIG_PROJECTS = 60;
const BIG_JOBS_PER_PROJECT = 40;
function bigWorld(): GitLabWorld {
  const world = new GitLabWorld();
  for (let i = 0; i < BIG_PROJECTS; i++) {
    const project = world.addProject(`acme/svc-${i}`);
    for (let j = 0; j < BIG_JOBS_PER_PROJECT; j++) {
      world.createJob(project.id, { name: `job-${j}`, tags: [`team-${i}-${j}`, `${"capability-".repeat(200)}${j}`], status: "pending" });
    }
  }
  return world;
}

/** One HTTP/1.1 GET over a raw socket that reads nothing until told to: a scraper on a stalled link. */
function slowScrape(port: number) {
  const socket = connect(port, "127.0.0.1");
  socket.pause();
  socket.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const chunks: Buffer[] = [];
  let received = 0;
  let closed = false;
  const ended = new Promise<void>((resolve) => {
    socket.on("end", resolve);
    socket.on("close", () => {
      closed = true;
      resolve();
    });
    socket.on("error", () => resolve());
  });
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
  });
  const response = () => {
    const raw = Buffer.concat(chunks);
    const split = raw.indexOf("\r\n\r\n");
    const head = split < 0 ? "" : raw.subarray(0, split).toString("latin1");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), contentLength: length, body: split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4) };
  };
  return {
    received: () => received,
    response,
    closed: () => closed,
    resume: () => socket.resume(),
    ended,
    destroy: () => socket.destroy(),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("graceful shutdown on SIGTERM, without a grace period", () => {
  it("completes a scrape in flight when the signal lands, whole, and exits 0 within 5 s", async () => {
    const { url, port, exited } = await startCli(bigWorld());
    // Wait until every job is shown, so the exposition has its full size.
    const jobs = BIG_PROJECTS * BIG_JOBS_PER_PROJECT;
    let size = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const text = await (await fetch(`${url}/metrics`)).text();
      size = Buffer.byteLength(text);
      if (text.match(/^gitlab_ci_jobs_pending\{/gm)?.length === jobs) break;
      await sleep(200);
    }
    expect(size).toBeGreaterThan(10 * 2 ** 20);

    // The scraper sends its request and reads nothing: the exporter renders the scrape and
    // writes what the socket takes; the rest waits in the exporter.
    const scrape = slowScrape(port);
    await sleep(500);
    expect(scrape.received()).toBe(0);

    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    // The exporter waits on the scrape in flight: still running, the socket open.
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    await sleep(700);
    expect(exitedEarly).toBe(false);
    expect(scrape.closed()).toBe(false);
    // Meanwhile a new scraper is turned away cleanly: refused, or told the server is closing.
    const late = await fetch(`${url}/metrics`).then(
      (r) => r.status,
      () => 0,
    );
    expect([0, 503]).toContain(late);

    // The scraper reads on; it gets every byte the exporter announced, then the exporter exits.
    scrape.resume();
    await scrape.ended;
    const done = scrape.response();
    expect(done.status).toBe(200);
    // Counters, process figures and timestamps move between scrapes, so this exposition's size is
    // close to the earlier one's, not equal; what must hold is that every announced byte arrives.
    expect(Math.abs(done.contentLength - size)).toBeLessThan(64 * 1024);
    expect(done.body.length).toBe(done.contentLength);
    const text = done.body.toString("utf8");
    expect(text.endsWith("\n")).toBe(true);
    const samples = parseMetrics(text);
    expect(samples.some((s) => s.name === "gitlab_ci_exporter_build_info")).toBe(true);
    expect(samples.filter((s) => s.name === "gitlab_ci_jobs_pending")).toHaveLength(jobs);
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5000);
  }, 60_000);

  it("answers a burst of scrapes around the signal whole or not at all, and exits 0 within 5 s", async () => {
    const { url, exited } = await startCli(smallWorld());
    const scrape = () =>
      fetch(`${url}/metrics`).then(
        async (response) => ({ status: response.status, length: Number(response.headers.get("content-length")), body: await response.text() }),
        () => ({ status: 0, length: 0, body: "" }),
      );
    const scrapes: Array<ReturnType<typeof scrape>> = [];
    for (let i = 0; i < 10; i++) {
      scrapes.push(scrape());
      await sleep(5);
    }
    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    for (let i = 0; i < 10; i++) {
      scrapes.push(scrape());
      await sleep(5);
    }
    let complete = 0;
    for (const result of await Promise.all(scrapes)) {
      if (result.status !== 200) {
        // Refused or told the server is closing; never a truncated 200.
        expect([0, 503]).toContain(result.status);
        continue;
      }
      complete++;
      expect(Buffer.byteLength(result.body)).toBe(result.length);
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
    const { exited } = await startCli(smallWorld());
    sim!.faults.hang();
    // A poll is waiting on GitLab when the signal lands.
    const deadline = Date.now() + 5_000;
    while (sim!.faults.served === 0 && Date.now() < deadline) await sleep(50);
    expect(sim!.faults.served).toBeGreaterThan(0);
    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5000);
  });
});

/** One request on a connection of its own, so the answer's own `connection` header can be read. */
function ask(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("the grace period before the drain", () => {
  it("fails /readyz at once, keeps answering webhooks, scrapes and /healthz until it ends, then drains and exits 0", async () => {
    const GRACE_MS = 2000;
    const world = smallWorld();
    const { url, exited } = await startCli(world, { SHUTDOWN_GRACE_SECONDS: String(GRACE_MS / 1000) });
    const project = world.project("acme/svc-0")!;
    const job = world.createJob(project.id, { name: "deploy", tags: ["prod"], status: "pending" });
    world.start(job.id, { id: 7, description: "runner-7" });
    // GitLab's API stops answering: the finish can only be learnt from the webhook below.
    sim!.faults.hang();

    const signalledAt = Date.now();
    child!.kill("SIGTERM");
    let gone = false;
    void exited.then(() => (gone = true));
    const ready = await eventually(
      async () => {
        const answer = await ask(`${url}/readyz`);
        expect(answer.status).toBe(503);
        return answer;
      },
      1000,
      20,
    );
    expect(JSON.parse(ready.body)).toMatchObject({ status: "stopping" });
    expect(Date.now() - signalledAt).toBeLessThan(500);

    // Well inside the grace period: a delivery is read and counted, and a scrape shows it.
    world.finish(job.id, "success");
    const delivery = await ask(`${url}/webhooks/gitlab`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gitlab-event": "Job Hook", "x-gitlab-token": HOOK_SECRET },
      body: JSON.stringify(jobHookBody(world, world.job(job.id)!)),
    });
    expect(delivery.status).toBe(200);
    expect(JSON.parse(delivery.body)).toMatchObject({ status: "accepted" });
    // Every answer asks the client to reconnect, through the Service, to a pod that stays.
    expect(delivery.headers.connection).toBe("close");
    const metrics = await ask(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.connection).toBe("close");
    expect(sum(parseMetrics(metrics.body), "gitlab_ci_jobs_finished_total", { project: "acme/svc-0", status: "success" })).toBe(1);
    expect((await ask(`${url}/healthz`)).status).toBe(200);

    // Still serving near the end of the grace period, gone soon after it.
    await sleep(GRACE_MS - (Date.now() - signalledAt) - 200);
    expect(gone).toBe(false);
    expect((await ask(`${url}/healthz`)).status).toBe(200);
    expect(await exited).toBe(0);
    const took = Date.now() - signalledAt;
    expect(took).toBeGreaterThanOrEqual(GRACE_MS);
    expect(took).toBeLessThan(GRACE_MS + 3000);
    await expect(ask(`${url}/healthz`)).rejects.toThrow();
  });

  it("stops at once on a second signal, SIGINT after SIGHUP, with the shell's code for SIGINT", async () => {
    const { url, exited, output } = await startCli(smallWorld(), { SHUTDOWN_GRACE_SECONDS: "30" });
    child!.kill("SIGHUP");
    await eventually(async () => expect((await ask(`${url}/readyz`)).status).toBe(503), 1000, 20);
    const signalledAt = Date.now();
    child!.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(Date.now() - signalledAt).toBeLessThan(1000);
    expect(output()).toContain("second signal");
  });
});
