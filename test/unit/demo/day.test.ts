import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DAY_MINUTES, DemoDay, INCIDENTS, type IncidentName } from "../../../src/demo/day.js";
import { buildDemoFleet } from "../../../src/demo/fleet.js";
import { ManualClock } from "../../../src/simulator/gitlab/index.js";

/**
 * The demo's day played on a clock of its own, minute by minute, against the thresholds and
 * durations of rules/ (their defaults in mixin/config.libsonnet): what each alert's expression
 * would see, from the simulators' truth. The end-to-end test checks the same day through the
 * exporter and a real Prometheus; this one tells why it must fire where it does.
 */
const MINUTE = 60_000;
const SYSTEM_REASONS = new Set(["runner_system_failure", "stuck_or_timeout_failure", "api_failure", "scheduler_failure"]);

interface Sample {
  readonly minute: number;
  readonly pending: number;
  readonly oldestPendingMinutes: number;
  /** Job pods unschedulable or container_creating, as GitLabCIJobPodsCannotGetNodes counts them. */
  readonly cannotGetNodes: number;
  readonly interrupted15m: number;
  readonly systemFailureRatio10m: number;
  readonly finished10m: number;
  readonly spotNodes: number;
}

function playDay() {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 8, 0, 0));
  const demo = buildDemoFleet({ clock });
  const announced: string[] = [];
  const day = new DemoDay(demo, { announce: (line) => announced.push(line) });
  const finished: Array<{ at: number; system: boolean }> = [];
  const interrupted: number[] = [];
  const spotNodesCreated: number[] = [];
  demo.world.onJobChange((job, previous) => {
    if (previous !== null && job.finishedAt !== null && job.status !== "canceled") finished.push({ at: clock.now(), system: job.status === "failed" && SYSTEM_REASONS.has(job.failureReason ?? "") });
  });
  demo.cluster.onChange((event) => {
    if (event.resource === "pods" && event.type === "DELETED" && (event.object as V1Pod).status?.conditions?.some((c) => c.type === "DisruptionTarget")) interrupted.push(clock.now());
    if (event.resource === "nodes" && event.type === "ADDED" && event.object.metadata?.labels?.["eks.amazonaws.com/nodegroup"] === "ci-spot") spotNodesCreated.push(clock.now());
  });
  const start = clock.now();
  day.schedule();
  const samples: Sample[] = [];
  for (let minute = 1; minute <= DAY_MINUTES; minute++) {
    for (let slice = 0; slice < 6; slice++) demo.scenario.step(MINUTE / 6);
    const now = clock.now();
    const pending = demo.world.jobs().filter((j) => j.status === "pending");
    const waiting = demo.fleet.capacity!.waiting().filter((w) => w.reason === "unschedulable" || w.reason === "container_creating");
    const window = finished.filter((f) => f.at > now - 10 * MINUTE);
    samples.push({
      minute,
      pending: pending.length,
      oldestPendingMinutes: Math.max(0, ...pending.map((j) => (now - j.queuedAt!) / MINUTE)),
      cannotGetNodes: waiting.length,
      interrupted15m: interrupted.filter((at) => at > now - 15 * MINUTE).length,
      systemFailureRatio10m: window.filter((f) => f.system).length / Math.max(1, window.length),
      finished10m: window.length,
      spotNodes: demo.fleet.spotNodeNames().length,
    });
  }
  day.stop();
  demo.fleet.dispose();
  const minuteOf = (at: number) => (at - start) / MINUTE;
  return { samples, announced, spotNodesCreated: spotNodesCreated.map(minuteOf) };
}

/** The longest run of consecutive minutes for which `condition` holds, within [from, to). */
function longestRun(samples: readonly Sample[], condition: (s: Sample) => boolean, from = 0, to = Infinity): number {
  let longest = 0;
  let run = 0;
  for (const sample of samples.filter((s) => s.minute >= from && s.minute < to)) {
    run = condition(sample) ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe("the demo's day", () => {
  const { samples, announced, spotNodesCreated } = playDay();
  const incident = (name: IncidentName) => {
    const found = INCIDENTS.find((i) => i.name === name)!;
    return { ...found, end: found.atMinute + found.minutes };
  };
  const pagesPending = (s: Sample) => s.pending > 20;
  const podsCannotGetNodes = (s: Sample) => s.cannotGetNodes > 10;
  const interruptions = (s: Sample) => s.interrupted15m >= 10;
  const systemFailures = (s: Sample) => s.systemFailureRatio10m > 0.05 && s.finished10m >= 20;

  it("announces each incident as it starts and as it ends", () => {
    expect(announced.map((line) => /^ +\[ *(\d+) min\] (.+?) (starts|ends):/.exec(line)!.slice(1, 4))).toEqual(
      [...INCIDENTS].flatMap((i) => [
        [String(i.atMinute), i.name, "starts"],
        [String(Math.round(i.atMinute + i.minutes)), i.name, "ends"],
      ]),
    );
  });

  it("keeps the first minutes quiet: no alert's condition holds before the first incident, a quarter of an hour in", () => {
    // The rules count a counter's first series once Prometheus has had the exporter for their window (15 min).
    expect(Math.min(...INCIDENTS.map((i) => i.atMinute))).toBeGreaterThan(15);
    const quiet = samples.filter((s) => s.minute < Math.min(...INCIDENTS.map((i) => i.atMinute)));
    expect(quiet.filter((s) => pagesPending(s) || podsCannotGetNodes(s) || interruptions(s) || systemFailures(s))).toEqual([]);
  });

  it("stuck queue: job pods wait beyond 10 min and jobs pend beyond 15 min, with room to spare, and both clear soon after", () => {
    const { atMinute, end } = incident("stuck queue");
    expect(longestRun(samples, podsCannotGetNodes, atMinute, end)).toBeGreaterThan(10 + 10);
    expect(longestRun(samples, pagesPending, atMinute, end)).toBeGreaterThan(15 + 6);
    expect(longestRun(samples, (s) => pagesPending(s) || podsCannotGetNodes(s), end + 10)).toBeLessThan(5);
    // No job waits half an hour (GitLabCIJobQueuedTooLong), not even in the stuck queue.
    expect(Math.max(...samples.map((s) => s.oldestPendingMinutes))).toBeLessThan(20);
    // Nowhere else for long: a few pods waiting a minute or two for a new node page nobody.
    expect(longestRun(samples, (s) => pagesPending(s) || podsCannotGetNodes(s), 0, atMinute)).toBeLessThan(5);
  });

  it("spot interruption wave: takes ten job pods or more at once, one wave in the day; its failures alone page nobody", () => {
    const { atMinute, end } = incident("spot interruption wave");
    const during = samples.filter((s) => s.minute > atMinute && s.minute <= end + 1);
    expect(Math.max(...during.map((s) => s.interrupted15m))).toBeGreaterThanOrEqual(10);
    expect(samples.filter((s) => interruptions(s) && (s.minute <= atMinute || s.minute > end + 15 + 1))).toEqual([]);
    // The jobs it fails raise the failure ratio for its 10 min window, short of the page's 15 min.
    expect(longestRun(samples, systemFailures, atMinute, atMinute + 20)).toBeLessThan(15 - 2);
  });

  it("system-failure burst: the ratio stays above 5% well beyond 15 min, and falls back within 10 min of its end", () => {
    const { atMinute, end } = incident("system-failure burst");
    expect(longestRun(samples, systemFailures, atMinute, end)).toBeGreaterThan(15 + 6);
    expect(samples.filter((s) => s.minute >= end + 12 && systemFailures(s))).toEqual([]);
  });

  it("scales the spot fleet up again after the wave and after the stuck queue, and down when nodes idle", () => {
    const wave = incident("spot interruption wave");
    const stuck = incident("stuck queue");
    expect(spotNodesCreated.filter((m) => m > wave.atMinute && m < wave.end + 10).length).toBeGreaterThan(0);
    expect(spotNodesCreated.filter((m) => m >= stuck.atMinute && m < stuck.end).length).toBe(0);
    expect(spotNodesCreated.filter((m) => m >= stuck.end && m < stuck.end + 10).length).toBeGreaterThan(3);
    const peak = Math.max(...samples.map((s) => s.spotNodes));
    expect(samples.at(-1)!.spotNodes).toBeLessThan(peak);
  });
});
