/**
 * A rollout as Kubernetes runs one with `maxSurge: 1, maxUnavailable: 0`: the old exporter
 * process serves, a new one starts against the same GitLab and Kubernetes, turns ready and joins
 * the Service, then the old one gets SIGTERM. GitLab's webhook deliveries flow the whole time
 * through a Service that follows `/readyz`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { DRAIN_LIMIT_SECONDS } from "../../src/shutdown.js";
import { isFinished, type JobStatus } from "../../src/domain/job.js";
import { GitLabWorld, startGitLabSimulator, WebhookSender, type GitLabSimulator, type SimRunner } from "../../src/simulator/gitlab/index.js";
import { KubeWorld, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { spawnExporter, waitFor, type ExporterProcess } from "../helpers/exporter-process.js";
import { CiTraffic } from "../helpers/ci-traffic.js";
import { eventually, scrape, sum } from "../helpers/prom.js";
import { startReadinessService, type Forwarded, type ReadinessService } from "../helpers/readiness-service.js";

const TOKEN = "glpat-rollout-0123456789abcdef";
const WEBHOOK_SECRET = "rollout-webhook-secret";
const PROJECTS = ["acme/api", "acme/web", "acme/worker", "acme/infra"];
const GRACE_SECONDS = 3;
/** A pipeline of two jobs every this many ms: 10 jobs a second, about 60 deliveries a second. */
const PIPELINE_EVERY_MS = 200;
const RUNNERS: readonly SimRunner[] = [
  { id: 11, description: "k8s-runner-a" },
  { id: 12, description: "k8s-runner-b" },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The next whole second: the finish times of Pipeline Hooks are written to the second. */
const nextWholeSecond = (ms: number) => Math.ceil(ms / 1000) * 1000;
/** Until the wall clock reads `ms` at least (a timer may fire a millisecond early). */
async function until(ms: number): Promise<void> {
  while (Date.now() < ms) await sleep(Math.max(1, ms - Date.now()));
}

interface Fleet {
  readonly gitlab: GitLabSimulator;
  readonly kube: KubeSimulator;
  readonly service: ReadinessService;
  readonly env: Record<string, string>;
  readonly processes: ExporterProcess[];
}

let fleet: Fleet | undefined;
let cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const exporter of fleet?.processes ?? []) await exporter.kill();
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
  fleet = undefined;
});

function worldWithProjects(): GitLabWorld {
  const world = new GitLabWorld();
  world.addGroup("acme");
  for (const project of PROJECTS) world.addProject(project);
  return world;
}

async function startFleet(polled: GitLabWorld, env: Record<string, string>): Promise<Fleet> {
  const gitlab = await startGitLabSimulator({ world: polled, token: TOKEN, rateLimitPerMinute: 1_000_000 });
  cleanup.push(() => gitlab.close());
  const kube = await startKubeSimulator({ world: new KubeWorld(), bookmarkIntervalMs: 200 });
  cleanup.push(() => kube.close());
  const dir = await mkdtemp(path.join(tmpdir(), "rollout-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  const service = await startReadinessService({ probeIntervalMs: 200 });
  cleanup.push(() => service.close());
  const processes: ExporterProcess[] = [];
  onTestFailed(() => {
    for (const [i, p] of processes.entries()) console.error(`exporter ${i} output:\n${p.output().slice(-6000)}`);
  });
  return {
    gitlab,
    kube,
    service,
    processes,
    env: {
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN: TOKEN,
      GITLAB_GROUPS: "acme",
      GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      GITLAB_POLL_INTERVAL_SECONDS: "0.5",
      GITLAB_MAX_REQUESTS_PER_SECOND: "100",
      GITLAB_IDLE_REQUESTS_PER_SECOND: "20",
      GITLAB_REQUEST_TIMEOUT_SECONDS: "2",
      KUBECONFIG: kubeconfig,
      KUBE_WATCH_STALL_SECONDS: "3",
      KUBE_RETRY_INITIAL_SECONDS: "0.05",
      KUBE_RETRY_MAX_SECONDS: "0.5",
      SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
      LOG_LEVEL: "info",
      ...env,
    },
  };
}

/** CI traffic: pipelines of two jobs, each queued, run by one of the runners and finished within a second. */
function ciTraffic(world: GitLabWorld, projectIds: readonly number[]): CiTraffic {
  return new CiTraffic(world, projectIds, { everyMs: PIPELINE_EVERY_MS, seed: 21, runners: RUNNERS, successShare: 0.8, canceledShare: 0.05 });
}

/** When the process began counting: it logs that it listens right after (pino's `time`, Unix ms). */
function listeningAtMs(exporter: ExporterProcess): number {
  const line = exporter.output().split("\n").find((l) => l.includes('"msg":"gitlab-ci-k8s-exporter listening"'));
  return (JSON.parse(line!) as { time: number }).time;
}

const finishedTotal = async (exporter: ExporterProcess) => sum(await scrape(exporter.url), "gitlab_ci_jobs_finished_total");

/** The ids of the jobs a delivery reports finished: the job of a Job Hook, the builds of a Pipeline Hook. */
function finishedIn(delivery: Forwarded): number[] {
  const body = JSON.parse(delivery.body.toString("utf8")) as { build_id?: number; build_status?: string; builds?: Array<{ id: number; status: string }> };
  const finished = (status: string | undefined) => status !== undefined && isFinished(status as JobStatus);
  if (delivery.headers["x-gitlab-event"] === "Job Hook") return finished(body.build_status) ? [body.build_id!] : [];
  return (body.builds ?? []).filter((build) => finished(build.status)).map((build) => build.id);
}

interface Handover {
  readonly old: ExporterProcess;
  readonly next: ExporterProcess;
  readonly oldReadyAtMs: number;
  readonly nextSpawnedAtMs: number;
  readonly nextReadyAtMs: number;
  readonly signalledAtMs: number;
  /** When the old process's last scrape was answered, in its grace period, after its last delivery was answered. */
  readonly oldLastScrapeAtMs: number;
  readonly oldCounted: number;
  readonly oldExit: { code: number | null; signal: NodeJS.Signals | null };
  readonly oldExitAtMs: number;
}

/**
 * Old process up and in the Service, traffic flowing; the new one starts, turns ready and joins;
 * the old one gets SIGTERM, leaves the Service, is scraped one last time and exits. With
 * `quietStart`, no job finishes between the new process's start and the whole second after it
 * turned ready, so which finishes it may count follows from the deliveries alone.
 */
async function handover(traffic: CiTraffic, options: { quietStart: boolean }): Promise<Handover> {
  const { service, env, processes } = fleet!;
  const old = await spawnExporter(env);
  processes.push(old);
  await waitFor(old, "/readyz");
  service.add(old.url);
  await service.waitForRotation([old.url]);
  const oldReadyAtMs = Date.now();
  await until(nextWholeSecond(oldReadyAtMs));
  traffic.start();
  await sleep(1500);

  if (options.quietStart) traffic.hold();
  const nextSpawnedAtMs = Date.now();
  const next = await spawnExporter(env);
  processes.push(next);
  await waitFor(next, "/readyz");
  const nextReadyAtMs = Date.now();
  service.add(next.url);
  await service.waitForRotation([old.url, next.url]);
  if (options.quietStart) {
    await until(nextWholeSecond(nextReadyAtMs));
    traffic.release();
    expect(traffic.finishedBetween(nextSpawnedAtMs, nextWholeSecond(nextReadyAtMs)), "jobs finished while the new process started").toBe(0);
  }
  await sleep(1000);

  const signalledAtMs = Date.now();
  old.child.kill("SIGTERM");
  await service.waitForRotation([next.url], 2000);
  const toOld = () => service.log.filter((d) => d.backend === old.url);
  await eventually(() => expect(toOld().filter((d) => d.answeredAtMs === null)).toEqual([]), 1000, 20);
  // What the old process was sent up to here, around the signal included, it answered.
  expect(toOld().filter((d) => d.status !== 200).map((d) => ({ status: d.status, afterSignalMs: d.receivedAtMs - signalledAtMs }))).toEqual([]);
  const scrapeSentAtMs = Date.now();
  const oldCounted = await finishedTotal(old);
  const oldLastScrapeAtMs = Date.now();
  expect(oldLastScrapeAtMs - signalledAtMs, "the last scrape fell in the grace period").toBeLessThan(GRACE_SECONDS * 1000);
  const oldExit = await old.exited;
  const oldExitAtMs = Date.now();
  // Nothing reached the old process after its last scrape was sent.
  expect(toOld().filter((d) => d.receivedAtMs >= scrapeSentAtMs)).toEqual([]);
  await sleep(1000);
  return { old, next, oldReadyAtMs, nextSpawnedAtMs, nextReadyAtMs, signalledAtMs, oldLastScrapeAtMs, oldCounted, oldExit, oldExitAtMs };
}

/** Every delivery went through the Service to a process and was answered 2xx; none was dropped or skipped. */
function expectEveryDeliveryAnswered(sender: WebhookSender): void {
  const { service } = fleet!;
  const deliveries = service.log.filter((d) => d.path === "/webhooks/gitlab");
  expect(deliveries.length).toBeGreaterThan(300);
  expect(deliveries.filter((d) => d.backend === null || d.status < 200 || d.status > 299).map((d) => ({ backend: d.backend, status: d.status }))).toEqual([]);
  expect(sender.stats.failed, "deliveries without an answer").toBe(0);
  expect(sender.stats.skippedDisabled, "deliveries skipped by a disabled hook").toBe(0);
  expect([...sender.stats.statuses.keys()]).toEqual([200]);
  expect(sender.stats.sent).toBe(deliveries.length);
}

function expectCleanExit(h: Handover): void {
  expect(h.oldExit).toEqual({ code: 0, signal: null });
  const took = h.oldExitAtMs - h.signalledAtMs;
  expect(took).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000);
  expect(took).toBeLessThan((GRACE_SECONDS + DRAIN_LIMIT_SECONDS) * 1000);
}

describe("a rollout, old and new exporter processes behind a Service that follows /readyz", () => {
  it("answers every webhook delivery 2xx, and each process counts the finished jobs it received exactly once", async () => {
    // The GitLab both processes poll has the projects and never a job; the deliveries come from a
    // second world with the same projects. Polling can see nothing, so what a process counts came
    // through the webhooks it received, and nothing else.
    fleet = await startFleet(worldWithProjects(), {});
    const hooked = worldWithProjects();
    const sender = new WebhookSender(hooked, { concurrency: 16 });
    sender.addHook({ url: `${fleet.service.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
    const traffic = ciTraffic(hooked, hooked.projects().map((p) => p.id));

    const h = await handover(traffic, { quietStart: true });
    traffic.finishAll();
    await sender.flush();
    sender.detach();
    expectEveryDeliveryAnswered(sender);
    expectCleanExit(h);

    // What each process was told: the distinct jobs its deliveries reported finished. The new
    // process counts only finishes from its start on (no job finished between its start and its
    // readiness), the old one every finish, as the traffic began after it was ready.
    const told = (exporter: ExporterProcess, sinceMs: number) =>
      new Set(fleet!.service.log.filter((d) => d.backend === exporter.url).flatMap(finishedIn).filter((id) => hooked.job(id)!.finishedAt! >= sinceMs));
    const toOld = told(h.old, 0);
    const toNext = told(h.next, h.nextSpawnedAtMs);
    const newCounted = await eventually(async () => {
      const counted = await finishedTotal(h.next);
      expect(counted).toBe(toNext.size);
      return counted;
    }, 5000, 100);
    expect(h.oldCounted, "the old process counted each job it was told of once").toBe(toOld.size);
    expect(newCounted, "the new process counted each job it was told of once").toBe(toNext.size);

    // Every job that finished was counted by a process; by both only when one was told of it by a
    // Job Hook and the other by a later Pipeline Hook listing it, which takes both of them alive.
    const finished = hooked.jobs().filter((job) => job.finishedAt !== null);
    const both = [...toOld].filter((id) => toNext.has(id));
    expect(new Set([...toOld, ...toNext]).size).toBe(finished.length);
    for (const id of both) {
      const at = hooked.job(id)!.finishedAt!;
      expect(at).toBeGreaterThanOrEqual(h.nextSpawnedAtMs);
      expect(at).toBeLessThan(h.oldLastScrapeAtMs);
    }
    const lags = fleet.service.log
      .filter((d) => d.headers["x-gitlab-event"] === "Job Hook" && finishedIn(d).length > 0)
      .map((d) => d.receivedAtMs - hooked.job(finishedIn(d)[0]!)!.finishedAt!)
      .sort((a, b) => a - b);
    console.log(
      `Rollout, webhooks only: ${fleet.service.log.length} deliveries all 2xx (a finish delivered after ${lags[lags.length >> 1]} ms, at most ${lags[lags.length - 1]} ms); ${finished.length} jobs finished, ` +
        `counted by the old process ${h.oldCounted}, by the new ${newCounted}, by both ${both.length} ` +
        `(finished while both ran: ${traffic.finishedBetween(h.nextSpawnedAtMs, h.oldLastScrapeAtMs)}); old process exited 0 ${h.oldExitAtMs - h.signalledAtMs} ms after SIGTERM`,
    );
  }, 60_000);

  it("with polling on as well, counts a job twice only if it finished while both processes ran", async () => {
    const world = worldWithProjects();
    fleet = await startFleet(world, {});
    const sender = new WebhookSender(world, { concurrency: 16 });
    sender.addHook({ url: `${fleet.service.url}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
    const traffic = ciTraffic(world, world.projects().map((p) => p.id));

    const h = await handover(traffic, { quietStart: false });
    traffic.finishAll();
    await sender.flush();
    sender.detach();
    expectEveryDeliveryAnswered(sender);
    expectCleanExit(h);

    // The new process counts every finish from its start on, told or polled.
    const end = Number.POSITIVE_INFINITY;
    const newCounted = await eventually(async () => {
      const counted = await finishedTotal(h.next);
      expect(counted).toBeGreaterThanOrEqual(traffic.finishedBetween(h.nextReadyAtMs, end));
      expect(counted).toBeLessThanOrEqual(traffic.finishedBetween(h.nextSpawnedAtMs, end));
      return counted;
    }, 10_000, 200);
    // The old one, by its last scrape, everything up to the new one's start, and nothing after that scrape.
    expect(h.oldCounted).toBeGreaterThanOrEqual(traffic.finishedBetween(0, h.nextSpawnedAtMs));
    expect(h.oldCounted).toBeLessThanOrEqual(traffic.finishedBetween(0, h.oldLastScrapeAtMs));
    // What Prometheus sums over both: each finish once, plus the overlap's seen by both.
    const finished = traffic.finishedBetween(0, end);
    const twice = h.oldCounted + newCounted - finished;
    // The new process begins counting after it was spawned and before it logs that it listens.
    const overlapAtMost = traffic.finishedBetween(h.nextSpawnedAtMs, h.oldLastScrapeAtMs);
    expect(twice).toBeGreaterThanOrEqual(0);
    expect(twice).toBeLessThanOrEqual(overlapAtMost);
    const listening = listeningAtMs(h.next);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `Rollout, webhooks and polling: ${finished} jobs finished, counted by the old process ${h.oldCounted} (to its last scrape), by the new ${newCounted}: ` +
        `the sum counts ${twice} twice, of ${traffic.finishedBetween(listening, h.oldLastScrapeAtMs)} to ${overlapAtMost} that finished between the new one's start and the old one's last scrape ` +
        `(${s(listening - h.nextSpawnedAtMs)} from spawn to listening, ${s(h.nextReadyAtMs - listening)} to ready, ${s(h.signalledAtMs - h.nextReadyAtMs)} both in the Service, ${s(h.oldLastScrapeAtMs - h.signalledAtMs)} from SIGTERM to the last scrape)`,
    );
  }, 60_000);
});
