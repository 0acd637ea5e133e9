import type { ServerResponse } from "node:http";
import { afterAll, afterEach, describe, expect, it, onTestFailed } from "vitest";
import { deploymentMemoryLimitBytes, spawnExporter, waitFor, type ExporterProcess } from "../helpers/exporter-process.js";
import { deliverJobHook, jobHook, openTricklingClients, serveEndlessJson, serveGzipBomb, serveHugePage } from "../helpers/hostile-payloads.js";
import { startHostileProxy, writeRepeated, type HostileProxy } from "../helpers/hostile-proxy.js";
import { jobPod, scrapeOf, scrapeTimed, shownPods, smallCluster, startHostilePeers, TOKEN, truePods, WEBHOOK_SECRET, type HostilePeers } from "../helpers/hostile-stack.js";
import { byLabels, eventually, sum } from "../helpers/prom.js";
import { finishedTruth, liveTruth } from "../helpers/truth.js";
import { mib, watchVitals, type VitalSigns } from "../helpers/vitals.js";

/**
 * Every peer the exporter talks to turns hostile, one way per scenario, while the exporter runs
 * as its own process (the CLI, as deployed). Throughout each scenario its memory stays under the
 * Deployment's limit and /healthz answers within a second; afterwards it converges on the truth
 * the simulators hold once the peer behaves again.
 */

const MEMORY_LIMIT = deploymentMemoryLimitBytes();
const HEALTHZ_LIMIT_MS = 1000;
const GROUP_PROJECTS = "/api/v4/groups/acme/projects";

const outcomes: string[] = [];
let peers: HostilePeers | undefined;
let exporter: ExporterProcess | undefined;
const extraPeers: HostileProxy[] = [];
let peakOfScenario: number | undefined;

afterEach(async (context) => {
  await exporter?.kill();
  await peers?.close();
  for (const proxy of extraPeers.splice(0)) await proxy.close();
  const state = context.task.result?.state === "pass" ? "ok" : "FAILED";
  outcomes.push(`${context.task.name} ${state}${peakOfScenario === undefined ? "" : ` ${mib(peakOfScenario)}`}`);
  exporter = undefined;
  peers = undefined;
  peakOfScenario = undefined;
});

afterAll(() => {
  console.log(`Hostile peers: ${outcomes.length} scenarios (memory limit ${mib(MEMORY_LIMIT)}); ${outcomes.join(", ")}`);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const metric = async (name: string, match: Record<string, string> = {}) => sum(await scrapeOf(exporter!.url), name, match);
const pendingShown = async () => byLabels(await scrapeOf(exporter!.url), "gitlab_ci_jobs_pending", ["project", "tags"]);
const finishedShown = async () => byLabels(await scrapeOf(exporter!.url), "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason", "runner"]);

/**
 * Starts the peers and the exporter, watches its vital signs while `body` runs, then checks them.
 * `body` may call `settle()` itself to check them before it ends the process (SIGTERM scenarios).
 */
async function scenario(
  options: { cluster?: boolean; env?: Record<string, string>; ready?: "/healthz" | "/readyz"; arm?: (peers: HostilePeers) => void },
  body: (exporter: ExporterProcess, peers: HostilePeers, settle: () => Promise<VitalSigns>) => Promise<void>,
): Promise<void> {
  peers = await startHostilePeers(options.cluster ? { cluster: smallCluster() } : {});
  options.arm?.(peers);
  const running = await spawnExporter({ ...peers.env, ...options.env });
  exporter = running;
  onTestFailed(() => console.error(`exporter output (last 6 KB):\n${running.output().slice(-6000) || "(none)"}`));
  await waitFor(running, options.ready ?? "/healthz");
  const vitals = watchVitals(running.pid, running.url);
  let signs: VitalSigns | undefined;
  const settle = async () => {
    if (signs) return signs;
    signs = await vitals.stop();
    peakOfScenario = signs.peakRssBytes;
    expect(signs.vanished, "the process died during the scenario").toBe(false);
    expect.soft(signs.peakRssBytes, `peak RSS ${mib(signs.peakRssBytes)}`).toBeLessThan(MEMORY_LIMIT);
    expect.soft(signs.slowestHealthzMs, "slowest /healthz answer (ms)").toBeLessThan(HEALTHZ_LIMIT_MS);
    expect.soft(signs.failedProbes, `/healthz probes without a 200, of ${signs.probes}: ${signs.probeFailures.join("; ")}`).toBe(0);
    return signs;
  };
  try {
    await body(running, peers, settle);
  } finally {
    if (!signs) peakOfScenario = (await vitals.stop()).peakRssBytes;
  }
  await settle();
}

/** Serves the group's project listing with `hostile` for the first `times` requests, then lets it through. */
function hostileListing(times: number, hostile: (response: ServerResponse, peers: HostilePeers) => unknown): (peers: HostilePeers) => { served: () => number } {
  let served = 0;
  return (p) => {
    p.gitlabProxy.intercept = (_request, response, seen) => {
      if (!seen.url.startsWith(GROUP_PROJECTS) || served >= times) return false;
      served++;
      void hostile(response, p);
      return true;
    };
    return { served: () => served };
  };
}

describe("hostile peers", () => {
  it("token-redirect", async () => {
    let redirected = 0;
    const other = await startHostileProxy("http://127.0.0.1:1", "127.0.0.2");
    extraPeers.push(other);
    await scenario(
      {
        arm: (p) => {
          // The other host answers like GitLab would, so a client that follows the redirect sees a 200.
          other.intercept = (_request, response, seen) => {
            const projects = p.world.projects().map((project) => ({ id: project.id, path_with_namespace: project.pathWithNamespace }));
            if (!seen.url.startsWith(GROUP_PROJECTS)) return false;
            response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(projects));
            return true;
          };
          p.gitlabProxy.intercept = (_request, response, seen) => {
            if (!seen.url.startsWith(GROUP_PROJECTS)) return false;
            redirected++;
            response.writeHead(302, { location: `${other.url}${seen.url}`, "content-length": "0" }).end();
            return true;
          };
        },
      },
      async () => {
        await eventually(() => expect(redirected).toBeGreaterThanOrEqual(2), 10_000, 100);
        await sleep(300);
        const leaked = other.requests.filter((r) => JSON.stringify(r.headers).includes(TOKEN));
        expect.soft(leaked.map((r) => r.url), "requests that carried the token to the other host").toEqual([]);
        expect(await metric("gitlab_ci_exporter_gitlab_requests_total", { endpoint: "/groups/:id/projects", code: "200" })).toBe(0);
      },
    );
  }, 30_000);

  it("huge-watch-line", async () => {
    let hostileDone: Promise<number> | undefined;
    await scenario(
      {
        cluster: true,
        arm: (p) => {
          // The first pod watch after the initial list gets one line of 48 MiB without a newline.
          p.kube!.proxy.intercept = (_request, response, seen) => {
            if (hostileDone || !seen.url.startsWith("/api/v1/pods?") || !/[?&]watch=(true|1)/.test(seen.url)) return false;
            response.writeHead(200, { "content-type": "application/json" });
            response.write('{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"');
            hostileDone = serveLine(response);
            return true;
          };
        },
      },
      async (_exporter, p) => {
        await eventually(() => expect(hostileDone).toBeDefined(), 10_000, 100);
        await hostileDone;
        const cluster = p.kube!.world;
        cluster.deletePod("gitlab-runner", cluster.pods()[0]!.metadata!.name!);
        cluster.addPod(jobPod(9, "spot-a"));
        await eventually(async () => expect(shownPods(await scrapeOf(exporter!.url))).toEqual(truePods(cluster)), 15_000, 200);
        expect(await metric("gitlab_ci_exporter_kube_watch_restarts_total", { resource: "pods" })).toBeGreaterThan(0);
      },
    );
  }, 40_000);

  it("poisoned-counting", async () => {
    const startedAt = Date.now();
    await scenario({ ready: "/readyz" }, async (running, p) => {
      const api = p.world.project("acme/api")!;
      const poisoned = p.world.createJob(api.id, { name: "poisoned", tags: [], status: "pending" });
      p.world.start(poisoned.id, { id: 1, description: "runner" });
      p.world.finish(poisoned.id, "success");
      const status = await deliverJobHook(running.url, WEBHOOK_SECRET, jobHook(p.world, poisoned, { build_finished_at: "9999-12-31T00:00:00Z", build_finished_at_iso: "9999-12-31T00:00:00Z" }));
      expect(status).toBeLessThan(500);
      // Later jobs, seen by polling alone, keep being counted exactly.
      for (const project of p.world.projects()) {
        for (const outcome of ["success", "failed"] as const) {
          const job = p.world.createJob(project.id, { name: `after-${outcome}`, tags: [], status: "pending" });
          p.world.start(job.id, { id: 1, description: "runner" });
          await sleep(100);
          p.world.finish(job.id, outcome, outcome === "failed" ? "script_failure" : undefined);
        }
      }
      await eventually(async () => expect(await finishedShown()).toEqual(finishedTruth(p.world, startedAt)), 15_000, 200);
      expect(await metric("gitlab_ci_exporter_invalid_objects_total", { source: "gitlab_webhook" }), "the implausible finished_at is refused and counted").toBeGreaterThan(0);
    });
  }, 40_000);

  for (const [name, hostile] of [
    ["endless-body", (response: ServerResponse) => serveEndlessJson(response)],
    ["gzip-bomb", (response: ServerResponse) => serveGzipBomb(response)],
    ["huge-page", (response: ServerResponse, p: HostilePeers) => serveHugePage(response, p.world)],
  ] as const) {
    it(name, async () => {
      let served = () => 0;
      await scenario(
        {
          // Long enough that the time limit is not what ends a hostile answer: the size limit must.
          env: { GITLAB_REQUEST_TIMEOUT_SECONDS: "15" },
          arm: (p) => (served = hostileListing(2, hostile)(p).served),
        },
        async (_exporter, p) => {
          await eventually(() => expect(served()).toBe(2), 20_000, 100);
          await eventually(async () => expect(await pendingShown()).toEqual(liveTruth(p.world, "pending")), 20_000, 200);
        },
      );
    }, 60_000);
  }

  it("endless-pagination-gitlab", async () => {
    const pages: number[] = [];
    const hostileUntil = Date.now() + 60_000;
    let hostileEnd = 0;
    await scenario(
      {
        arm: (p) => {
          p.gitlabProxy.intercept = (_request, response, seen) => {
            if (!seen.url.startsWith(GROUP_PROJECTS) || Date.now() > Math.min(hostileUntil, hostileEnd || Infinity) || pages.length >= 3000) return false;
            const page = Number(new URL(seen.url, "http://x").searchParams.get("page") ?? "1");
            pages.push(page);
            const projects = p.world.projects().map((project) => ({ id: project.id, path_with_namespace: project.pathWithNamespace }));
            // GitLab's links always carry per_page; this one does not, and it never ends.
            const next = `${p.gitlabProxy.url}${GROUP_PROJECTS}?page=${page + 1}`;
            response.writeHead(200, { "content-type": "application/json", link: `<${next}>; rel="next"`, "x-next-page": String(page + 1) }).end(JSON.stringify(projects));
            return true;
          };
        },
      },
      async (_exporter, p) => {
        hostileEnd = Date.now() + 3000;
        await sleep(3000);
        expect(pages.length).toBeGreaterThan(0);
        expect.soft(Math.max(...pages), "pages followed in one listing").toBeLessThanOrEqual(100);
        await eventually(async () => expect(await pendingShown()).toEqual(liveTruth(p.world, "pending")), 20_000, 200);
      },
    );
  }, 60_000);

  it("endless-pagination-kube", async () => {
    const chains: number[] = [0];
    let hostileEnd = Date.now() + 60_000;
    await scenario(
      {
        cluster: true,
        arm: (p) => {
          p.kube!.proxy.intercept = (_request, response, seen) => {
            const url = new URL(seen.url, "http://x");
            if (url.pathname !== "/api/v1/pods" || url.searchParams.get("watch") || Date.now() > hostileEnd || chains.length > 5000) return false;
            if (url.searchParams.get("continue")) chains[chains.length - 1]!++;
            else chains.push(1);
            const body = { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "1", continue: `more-${chains.length}-${chains.at(-1)}` }, items: [] };
            response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
            return true;
          };
        },
      },
      async (_exporter, p) => {
        hostileEnd = Date.now() + 3000;
        await sleep(3000);
        expect.soft(Math.max(...chains), "pages requested in one list").toBeLessThanOrEqual(20);
        const cluster = p.kube!.world;
        cluster.addPod(jobPod(9, "spot-a"));
        await eventually(async () => expect(shownPods(await scrapeOf(exporter!.url))).toEqual(truePods(cluster)), 15_000, 200);
      },
    );
  }, 60_000);

  it("slow-clients", async () => {
    await scenario({ ready: "/readyz" }, async (running, _p, settle) => {
      const clients = await openTricklingClients(running.port, 1100, WEBHOOK_SECRET, 3000);
      try {
        // All 1,100 reached the exporter, which keeps at most HTTP_MAX_CONNECTIONS (256 by default)
        // of them open, shedding the oldest that are not being answered.
        expect(clients.connected).toBe(1100);
        expect(clients.opened).toBeLessThan(1100);
        for (let round = 0; round < 3; round++) {
          for (const path of ["/healthz", "/readyz", "/metrics"]) {
            const startedAt = performance.now();
            const status = await fetch(`${running.url}${path}`, { signal: AbortSignal.timeout(3000) }).then(
              async (r) => (await r.arrayBuffer(), r.status),
              () => 0,
            );
            expect(status, path).toBe(200);
            expect(performance.now() - startedAt, `${path} answer time (ms)`).toBeLessThan(1000);
          }
          await sleep(500);
        }
        await settle();
        const signalledAt = Date.now();
        running.child.kill("SIGTERM");
        const exit = await Promise.race([running.exited, sleep(8000).then(() => undefined)]);
        expect(exit, "exit after SIGTERM").toEqual({ code: 0, signal: null });
        expect(Date.now() - signalledAt, "shutdown time (ms)").toBeLessThan(2500);
      } finally {
        clients.close();
      }
    });
  }, 60_000);

  it("unbounded-labels", async () => {
    await scenario({ ready: "/readyz" }, async (running, p) => {
      const api = p.world.project("acme/api")!;
      const template = p.world.createJob(api.id, { name: "template", tags: [], status: "pending" });
      p.world.start(template.id, { id: 1, description: "runner" });
      p.world.finish(template.id, "success");
      const base = jobHook(p.world, template);
      const runner = base.runner as Record<string, unknown>;
      const pad = "r".repeat(900_000);
      // 300 deliveries of ~900 KB, six at a time, within a time budget: an exporter that slows
      // down with every long label value is reported, not waited for.
      const budgetEnds = Date.now() + 30_000;
      let accepted = 0;
      for (let batch = 0; batch < 300 && Date.now() < budgetEnds; batch += 6) {
        const statuses = await Promise.all(
          Array.from({ length: 6 }, (_, k) => {
            const i = batch + k;
            const body = { ...base, build_id: 5_000_000 + i, runner: { ...runner, id: 7000 + i, description: `runner-${i}-${pad}` } };
            return deliverJobHook(running.url, WEBHOOK_SECRET, body).catch(() => 0);
          }),
        );
        accepted += statuses.filter((s) => s >= 200 && s < 300).length;
      }
      expect.soft(accepted, "deliveries accepted within 30 s").toBe(300);
      const scraped = await scrapeTimed(running.url).catch((error: unknown) => error as Error);
      if (scraped instanceof Error) {
        expect.soft(scraped.message, "a scrape within 10 s").toBe("");
        return;
      }
      const { samples, bytes, ms } = scraped;
      const longest = Math.max(...samples.flatMap((s) => Object.values(s.labels).map((v) => Buffer.byteLength(v))));
      expect.soft(samples.some((s) => s.name === "gitlab_ci_jobs_finished_total" && s.labels.runner?.startsWith("runner-1-")), "a runner label from the hooks").toBe(true);
      expect.soft(longest, "longest label value (bytes)").toBeLessThanOrEqual(1024);
      expect.soft(bytes, "/metrics size (bytes)").toBeLessThan(2 * 2 ** 20);
      expect.soft(ms, "scrape time (ms)").toBeLessThan(1000);
    });
  }, 60_000);

  it("future-date-header", async () => {
    const startedAt = Date.now();
    let poisoned = 0;
    await scenario({ ready: "/readyz", env: { GITLAB_HOT_PROJECT_TTL_SECONDS: "0" } }, async (_running, p) => {
      await eventually(async () => expect(await pendingShown()).toEqual(liveTruth(p.world, "pending")), 10_000, 200);
      p.gitlabProxy.rewrite = (_seen, status, headers, body) => {
        if (poisoned > 0) return undefined;
        poisoned++;
        return { status, headers: { ...headers, date: "Fri, 01 Jan 2100 00:00:00 GMT" }, body };
      };
      await eventually(() => expect(poisoned).toBe(1), 5000, 50);
      await sleep(300);
      for (const project of p.world.projects()) {
        p.world.createJob(project.id, { name: "queued-after", tags: ["late"], status: "pending" });
        const done = p.world.createJob(project.id, { name: "done-after", tags: [], status: "pending" });
        p.world.start(done.id, { id: 1, description: "runner" });
        p.world.finish(done.id, "success");
      }
      await eventually(async () => {
        expect(await pendingShown()).toEqual(liveTruth(p.world, "pending"));
        expect(await finishedShown()).toEqual(finishedTruth(p.world, startedAt));
      }, 10_000, 200);
    });
  }, 40_000);

  it("fail-open-config", async () => {
    const base = { GITLAB_URL: "http://127.0.0.1:1", GITLAB_TOKEN: TOKEN, GITLAB_GROUPS: "acme", KUBE_ENABLED: "false" };
    // Refused at once, or started: then it has had its chance to log what it was given.
    const runToExit = async (env: Record<string, string>) => {
      const running = await spawnExporter({ ...base, ...env });
      exporter = running;
      const started = waitFor(running, "/healthz", 15_000).then(() => sleep(1000), () => undefined);
      const exit = await Promise.race([running.exited, started.then(() => undefined)]);
      await running.kill();
      return { exit, output: running.output() };
    };
    const blankToken = await runToExit({ METRICS_BEARER_TOKEN: "   " });
    const withPassword = await runToExit({ GITLAB_URL: "https://user:secret@gitlab.invalid" });
    expect.soft(withPassword.output, "the password never appears").not.toContain("secret");
    expect.soft(withPassword.exit, "GITLAB_URL with a password: exit").toEqual({ code: 2, signal: null });
    expect.soft(blankToken.exit, "blank METRICS_BEARER_TOKEN: exit").toEqual({ code: 2, signal: null });
    const lines = blankToken.output.split("\n").filter((line) => line.trim() !== "");
    expect.soft(lines, "one line naming the setting").toHaveLength(1);
    expect.soft(lines[0] ?? "").toContain("METRICS_BEARER_TOKEN");
  }, 30_000);

  it("absurd-values", async () => {
    await scenario({ ready: "/readyz" }, async (running, p) => {
      const api = p.world.project("acme/api")!;
      const finished = p.world.createJob(api.id, { name: "long", tags: [], status: "pending" });
      p.world.start(finished.id, { id: 1, description: "runner" });
      p.world.finish(finished.id, "success");
      const queued = p.world.createJob(api.id, { name: "queued", tags: ["absurd"], status: "pending" });
      const started = p.world.createJob(api.id, { name: "started", tags: ["absurd"], status: "pending" });
      p.world.start(started.id, { id: 1, description: "runner" });
      const hooks = [
        jobHook(p.world, finished, { build_id: 6_000_001, build_duration: 1e308 }),
        jobHook(p.world, queued, { build_id: 6_000_002, build_queued_duration: 1e12 }),
        jobHook(p.world, started, { build_id: 6_000_003, build_queued_duration: 1e12 }),
      ];
      for (const hook of hooks) expect(await deliverJobHook(running.url, WEBHOOK_SECRET, hook)).toBeLessThan(500);
      await sleep(500);
      const samples = await scrapeOf(running.url);
      for (const sample of samples.filter((s) => /^gitlab_ci_(job|image_build)_.*_seconds_sum$/.test(s.name))) {
        expect.soft(sample.value, `${sample.name}${JSON.stringify(sample.labels)}`).toBeLessThan(1e9);
      }
      for (const sample of samples.filter((s) => s.name === "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds")) {
        expect.soft(sample.value, `oldest queued ${JSON.stringify(sample.labels)}`).toBeGreaterThan(Date.UTC(2000, 0, 1) / 1000);
      }
      expect(sum(samples, "gitlab_ci_exporter_invalid_objects_total", { source: "gitlab_webhook" })).toBeGreaterThanOrEqual(2);
    });
  }, 40_000);

  it("silent-drop", async () => {
    await scenario(
      {
        arm: (p) => {
          p.gitlabProxy.rewrite = (seen, status, headers, body) => {
            if (!seen.url.startsWith(GROUP_PROJECTS) || status !== 200) return undefined;
            const projects = JSON.parse(body.toString()) as unknown[];
            return { status, headers, body: Buffer.from(JSON.stringify([...projects, { id: "1", path_with_namespace: "acme/stringly" }])) };
          };
        },
      },
      async (running, p) => {
        await eventually(async () => expect(await pendingShown()).toEqual(liveTruth(p.world, "pending")), 10_000, 200);
        await eventually(async () => expect(await metric("gitlab_ci_exporter_invalid_objects_total", { source: "gitlab_api" })).toBeGreaterThan(0), 5000, 200);
        expect(running.output()).toMatch(/"source":"gitlab_api"/);
      },
    );
  }, 30_000);

  it("sighup", async () => {
    await scenario({ ready: "/readyz" }, async (running, _p, settle) => {
      await settle();
      running.child.kill("SIGHUP");
      const exit = await Promise.race([running.exited, sleep(2000).then(() => undefined)]);
      if (exit === undefined) {
        expect((await fetch(`${running.url}/healthz`, { signal: AbortSignal.timeout(1000) })).status).toBe(200);
      } else {
        expect(exit, "a graceful exit, not death by signal").toEqual({ code: 0, signal: null });
      }
    });
  }, 30_000);

  it("negative-retry-after", async () => {
    // Three 429s with `Retry-After: -5`: each retry must wait an exponential backoff (seconds,
    // growing), not retry at once. The exporter's backoff starts at 5 s with equal jitter.
    const THROTTLED = 3;
    const throttledAt: number[] = [];
    await scenario(
      {
        arm: (p) => {
          p.gitlabProxy.intercept = (_request, response, seen) => {
            if (!seen.url.startsWith(GROUP_PROJECTS) || throttledAt.length >= THROTTLED) return false;
            throttledAt.push(performance.now());
            response.writeHead(429, { "content-type": "application/json", "retry-after": "-5" }).end('{"message":"Retry later"}');
            return true;
          };
        },
      },
      async (_running, p) => {
        await eventually(() => expect(throttledAt).toHaveLength(THROTTLED), 25_000, 100);
        const gaps = throttledAt.slice(1).map((at, i) => at - throttledAt[i]!);
        const shown = `gaps between throttled requests: ${gaps.map(Math.round).join(", ")} ms`;
        for (const gap of gaps) expect.soft(gap, shown).toBeGreaterThanOrEqual(2000);
        expect.soft(gaps.at(-1)!, shown).toBeGreaterThanOrEqual(gaps[0]!);
        await eventually(async () => expect(await pendingShown()).toEqual(liveTruth(p.world, "pending")), 25_000, 200);
      },
    );
  }, 60_000);
});

/** 48 MiB of one JSON string, never a newline; resolves with the bytes written. */
function serveLine(response: ServerResponse): Promise<number> {
  return writeRepeated(response, Buffer.alloc(2 ** 20, "a"), 48);
}
