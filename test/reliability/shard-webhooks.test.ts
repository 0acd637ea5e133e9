/**
 * GitLab's deliveries reach a sharded exporter through one Service, which picks any replica: each
 * replica applies its own shard's and forwards the rest to their shard's replica. Deliveries go
 * round-robin to three shards while one of them restarts; every one is answered 2xx, and each
 * finished job is counted exactly once over all the processes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { shardOfProject } from "../../src/domain/shard.js";
import { GitLabWorld, startGitLabSimulator, WebhookSender } from "../../src/simulator/gitlab/index.js";
import { KubeWorld, startKubeSimulator } from "../../src/simulator/kube/index.js";
import { CiTraffic } from "../helpers/ci-traffic.js";
import { waitFor } from "../helpers/exporter-process.js";
import { eventually, scrape, sum } from "../helpers/prom.js";
import type { ReadinessService } from "../helpers/readiness-service.js";
import { startFleetBehindService, startShardFleet, type ShardFleet } from "../helpers/shard-fleet.js";

const TOKEN = "glpat-shard-hooks-0123456789";
const WEBHOOK_SECRET = "shard-hooks-secret";
const SHARDS = 3;
const PROJECTS = Array.from({ length: 12 }, (_, i) => `acme/service-${i}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function worldWithProjects(): GitLabWorld {
  const world = new GitLabWorld();
  world.addGroup("acme");
  for (const project of PROJECTS) world.addProject(project);
  return world;
}

async function start(): Promise<{ fleet: ShardFleet; service: ReadinessService; hooked: GitLabWorld }> {
  // The GitLab the processes poll has the projects and never a job: what they count came through
  // the webhooks, from a second world with the same projects.
  const gitlab = await startGitLabSimulator({ world: worldWithProjects(), token: TOKEN, rateLimitPerMinute: 1_000_000 });
  cleanup.push(() => gitlab.close());
  const kube = await startKubeSimulator({ world: new KubeWorld() });
  cleanup.push(() => kube.close());
  const dir = await mkdtemp(path.join(tmpdir(), "shard-hooks-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  const fleet = await startShardFleet(SHARDS, {
    TOTAL_SHARDS: String(SHARDS),
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: "acme",
    GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITLAB_POLL_INTERVAL_SECONDS: "1",
    GITLAB_MAX_REQUESTS_PER_SECOND: "60",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "6",
    KUBECONFIG: kubeconfig,
    KUBE_RETRY_INITIAL_SECONDS: "0.05",
    KUBE_RETRY_MAX_SECONDS: "0.5",
    SHARD_LEASE_DURATION_SECONDS: "3",
    SHUTDOWN_GRACE_SECONDS: "1",
    LOG_LEVEL: "info",
  });
  const service = await startFleetBehindService(fleet, cleanup);
  return { fleet, service, hooked: worldWithProjects() };
}

const finishedTotal = async (url: string) => sum(await scrape(url), "gitlab_ci_jobs_finished_total");
const deliveriesCounted = async (url: string) => sum(await scrape(url), "gitlab_ci_exporter_webhook_events_total");

describe("webhook deliveries to any replica of three shards", () => {
  it("are each answered 2xx, applied by the project's shard, and count every finished job exactly once, while a replica restarts", async () => {
    const { fleet, service, hooked } = await start();
    const ids = hooked.projects().map((p) => p.id);
    expect(new Set(ids.map((id) => shardOfProject(id, SHARDS))).size).toBe(SHARDS);
    const sender = new WebhookSender(hooked, { concurrency: 8 });
    sender.addHook({ url: `${service.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
    const traffic = new CiTraffic(hooked, ids);
    traffic.start();
    await sleep(4000);

    // Replica 1 restarts: stopped with nothing finishing, scraped one last time in its grace period,
    // then jobs go on finishing (their deliveries for shard 1 held by the others) until it is back.
    traffic.pause();
    await sender.flush();
    const restarted = fleet.replicas[1]!;
    const old = restarted.process!;
    await eventually(async () => expect(await finishedTotal(restarted.url)).toBe(await finishedTotal(restarted.url)), 2000);
    old.child.kill("SIGTERM");
    await service.waitForRotation([fleet.peers[0]!, fleet.peers[2]!], 3000);
    const oldCounted = await finishedTotal(restarted.url);
    const oldDeliveries = await deliveriesCounted(restarted.url);
    expect(await old.exited).toEqual({ code: 0, signal: null });
    const downAt = Date.now();
    traffic.start();
    await sleep(3000);
    await fleet.spawn(1);
    await waitFor(restarted.process!, "/readyz");
    const backAfterMs = Date.now() - downAt;
    await service.waitForRotation(fleet.peers);
    await sleep(3000);
    traffic.finishAll();
    await sender.flush();
    sender.detach();

    // Every delivery answered 2xx by whichever replica the Service picked, none failed.
    const deliveries = service.log.filter((d) => d.path === "/webhooks/gitlab");
    expect(deliveries.length).toBeGreaterThan(200);
    expect(deliveries.filter((d) => d.backend === null || d.status < 200 || d.status > 299).map((d) => ({ backend: d.backend, status: d.status }))).toEqual([]);
    expect(sender.stats.failed).toBe(0);
    const statuses = new Map<number, number>();
    for (const d of deliveries) statuses.set(d.status, (statuses.get(d.status) ?? 0) + 1);

    // Each finished job once, over the three shards and both lives of replica 1; each delivery counted once.
    const finished = hooked.jobs().filter((job) => job.finishedAt !== null).length;
    const counted = await eventually(async () => {
      const totals = await Promise.all(fleet.replicas.map((r) => finishedTotal(r.url)));
      expect(oldCounted + totals.reduce((a, b) => a + b, 0)).toBe(finished);
      return totals;
    }, 20_000, 200);
    const delivered = await Promise.all(fleet.replicas.map((r) => deliveriesCounted(r.url)));
    expect(oldDeliveries + delivered.reduce((a, b) => a + b, 0)).toBe(sender.stats.sent);
    const forwarded = await Promise.all(fleet.replicas.map(async (r) => sum(await scrape(r.url), "gitlab_ci_exporter_webhook_forwards_total", { outcome: "delivered" })));
    expect(forwarded.reduce((a, b) => a + b, 0)).toBeGreaterThan(deliveries.length / 2);

    // A forwarded delivery is answered once its shard applied it: how long that took.
    const waits = deliveries.filter((d) => d.status === 200 && d.backend !== null).map((d) => d.answeredAtMs! - d.receivedAtMs).sort((a, b) => a - b);
    const p99 = waits[Math.floor(waits.length * 0.99)]!;
    expect(p99).toBeLessThan(1000);
    console.log(
      `Sharded webhooks: ${deliveries.length} deliveries round-robin over ${SHARDS} shards, answers ${JSON.stringify(Object.fromEntries(statuses))} (202: held while replica 1 restarted, ${backAfterMs} ms); ` +
        `${forwarded.reduce((a, b) => a + b, 0)} forwarded to their shard, applied and answered in ${waits[waits.length >> 1]} ms p50, ${p99} ms p99; ` +
        `${finished} jobs finished, counted ${counted.join("/")} by the shards now and ${oldCounted} by replica 1 before its restart: once each`,
    );
  }, 120_000);
});
