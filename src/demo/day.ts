import { BASE_LOAD, type DemoFleet } from "./fleet.js";

/** What goes wrong in the demo's day. */
export type IncidentName = "stuck queue" | "spot interruption wave" | "system-failure burst";

export interface Incident {
  readonly name: IncidentName;
  /** Minutes into the day it starts, and how many it lasts. */
  readonly atMinute: number;
  readonly minutes: number;
  /** The alerts of `rules/` it fires; each resolves once the incident is over. */
  readonly alerts: readonly string[];
}

/** A day lasts this many minutes, then the next one starts (in the demo). */
export const DAY_MINUTES = 108;

/**
 * The day's incidents, far enough apart that each alert fires for its own incident only: the
 * alerts' `for` and windows of `rules/` (pending jobs 15 min, job pods 10 min, failure ratio over
 * 10 min for 15 min, interruptions over 15 min) fit inside each incident or the quiet after it.
 * The first comes after 15 quiet minutes: the rules count a counter's first series only once
 * Prometheus has scraped the exporter for the length of their window.
 */
export const INCIDENTS: readonly Incident[] = [
  { name: "spot interruption wave", atMinute: 16, minutes: 0.5, alerts: ["GitLabCISpotInterruptionsTakingJobs"] },
  { name: "stuck queue", atMinute: 22, minutes: 34, alerts: ["GitLabCIJobPodsCannotGetNodes", "GitLabCIPendingJobsHigh"] },
  { name: "system-failure burst", atMinute: 62, minutes: 30, alerts: ["GitLabCISystemFailureRatioHigh"] },
];

/**
 * The stuck queue: the morning peak's load for its first minutes, then twice the ordinary (the
 * backlog stays about level); how many jobs the runners take at once (their `concurrent`).
 */
const PEAK_LOAD_FACTOR = 4;
const PEAK_MINUTES = 8;
const AFTER_PEAK_LOAD_FACTOR = 2;
const RUNNER_CONCURRENCY = 80;
/** Once capacity is back, the runners take the backlog over this long. */
const BACKLOG_DRAIN_MINUTES = 5;
/** The registry rate-limits the pulls of the nodes launched when spot capacity comes back. */
const REGISTRY_LIMITED_MINUTES = 1.5;
const WAVE_NODES = 4;
const BURST_SYSTEM_FAILURE_RATIO = 0.25;
/** cluster-autoscaler's `scale-down-unneeded-time`. */
const UNNEEDED_MINUTES = 10;

const TEXT: Record<IncidentName, { start: string; end: string }> = {
  "stuck queue": {
    start:
      `the morning peak brings ${PEAK_LOAD_FACTOR} times the load for ${PEAK_MINUTES} min and the spot node group can get no instance, so job pods wait Unschedulable ` +
      `(GitLab shows their jobs running); once the runners hold ${RUNNER_CONCURRENCY} jobs, the others stay pending. ` +
      "Expect GitLabCIJobPodsCannotGetNodes about 15 min in, GitLabCIPendingJobsHigh about 25 min in.",
    end:
      "spot capacity is back: the autoscaler launches nodes for the waiting pods (the registry rate-limits their first pulls for 90 s) " +
      `and the runners work the backlog off over ${BACKLOG_DRAIN_MINUTES} min.`,
  },
  "spot interruption wave": {
    start: `the cloud reclaims ${WAVE_NODES} busy spot nodes within half a minute; their jobs fail as runner_system_failure. Expect GitLabCISpotInterruptionsTakingJobs at once.`,
    end: "no more reclaims: the node group launches replacements as new pods wait; the alert resolves once the wave leaves its 15 min window.",
  },
  "system-failure burst": {
    start: `a broken runner release fails ${BURST_SYSTEM_FAILURE_RATIO * 100}% of the jobs for a system reason. Expect GitLabCISystemFailureRatioHigh about 17 min in.`,
    end: "the release is rolled back: the page resolves once the system failure ratio over 10 min is back under 5%.",
  },
};

/**
 * Plays the demo's day on its fleet: an ordinary baseline (a job every ten seconds, idle nodes
 * scaled down, a Kaniko build outside CI every two minutes) and, on schedule, the
 * incidents of `INCIDENTS`, each announced as it starts and ends. At the fleet's speed above 1
 * the day is that many times shorter.
 */
export class DemoDay {
  private startedAt = 0;
  private builds = 0;
  private running = false;

  constructor(
    private readonly demo: DemoFleet,
    private readonly options: { announce?: (line: string) => void; repeat?: boolean } = {},
  ) {}

  /** When the current day started, by the world's clock. */
  get startedAtMs(): number {
    return this.startedAt;
  }

  /** Minutes into the current day at `atMs` (the world's clock). */
  minuteOf(atMs: number): number {
    return ((atMs - this.startedAt) * this.demo.speed) / 60_000;
  }

  /** Real milliseconds of `minutes` of the day. */
  ms(minutes: number): number {
    return (minutes * 60_000) / this.demo.speed;
  }

  /** Starts the day (and, with `repeat`, the ones after it), the scenario playing in real time. */
  start(): void {
    this.schedule();
    this.demo.scenario.start(Math.max(20, Math.round(500 / this.demo.speed)));
  }

  /** Schedules the day without playing it in real time: for a caller that steps the scenario on a clock of its own. */
  schedule(): void {
    this.running = true;
    this.startDay();
    this.every(1, () => this.demo.fleet.scaleDownIdle({ unneededMs: this.ms(UNNEEDED_MINUTES), minNodes: 2 }));
    this.every(2, () => this.plainBuild());
  }

  stop(): void {
    this.running = false;
    this.demo.scenario.stop();
  }

  /** The schedule, one line an incident, for the console. */
  describe(): string[] {
    const width = Math.max(...INCIDENTS.map((i) => i.name.length));
    const span = (i: Incident) => (i.minutes < 1 ? `${i.atMinute}` : `${i.atMinute}-${i.atMinute + i.minutes}`);
    const lines = INCIDENTS.map((i) => `    ${span(i).padStart(5)} min  ${i.name.padEnd(width)}  ${i.alerts.join(", ")}`);
    return [`  the day (${DAY_MINUTES} min${this.options.repeat ? ", then the next one" : ""}): a quiet baseline, and`, ...lines];
  }

  private startDay(): void {
    const { scenario } = this.demo;
    const next = this.startedAt > 0;
    this.startedAt = this.demo.world.now();
    if (next) this.announce("a new day starts");
    for (const incident of INCIDENTS) {
      scenario.schedule(this.ms(incident.atMinute), () => this.begin(incident));
      scenario.schedule(this.ms(incident.atMinute + incident.minutes), () => this.end(incident));
    }
    if (this.options.repeat) scenario.schedule(this.ms(DAY_MINUTES), () => this.running && this.startDay());
  }

  private begin(incident: Incident): void {
    const { scenario, fleet, speed } = this.demo;
    this.record(incident, "start");
    if (incident.name === "stuck queue") {
      scenario.adjust({ jobsPerMinute: BASE_LOAD.jobsPerMinute * PEAK_LOAD_FACTOR * speed });
      scenario.schedule(this.ms(PEAK_MINUTES), () => scenario.adjust({ jobsPerMinute: BASE_LOAD.jobsPerMinute * AFTER_PEAK_LOAD_FACTOR * speed }));
      fleet.withholdSpot(this.ms(incident.minutes));
      scenario.limitRunning(RUNNER_CONCURRENCY);
    } else if (incident.name === "spot interruption wave") {
      for (let i = 0; i < WAVE_NODES; i++) scenario.schedule(this.ms((i * incident.minutes) / WAVE_NODES), () => this.reclaimBusiest());
    } else {
      scenario.adjust({ systemFailureRatio: BURST_SYSTEM_FAILURE_RATIO });
    }
  }

  private end(incident: Incident): void {
    const { scenario, fleet, speed } = this.demo;
    if (incident.name === "stuck queue") {
      // Runs before the capacity comes back (scheduled later, at the same time): the fresh nodes' pulls fail.
      scenario.adjust({ jobsPerMinute: BASE_LOAD.jobsPerMinute * speed });
      scenario.limitRunning(undefined, { overMs: this.ms(BACKLOG_DRAIN_MINUTES) });
      fleet.capacity?.failPulls();
      scenario.schedule(this.ms(REGISTRY_LIMITED_MINUTES), () => fleet.capacity?.healRegistry());
    } else if (incident.name === "system-failure burst") {
      scenario.adjust({ systemFailureRatio: BASE_LOAD.systemFailureRatio });
    }
    this.record(incident, "end");
  }

  private reclaimBusiest(): void {
    const node = this.demo.fleet.busiestSpotNodes()[0];
    if (node !== undefined) this.demo.fleet.spotInterruption(node);
  }

  private plainBuild(): void {
    this.builds++;
    this.demo.fleet.runPlainBuild(`nightly-image-${this.builds}`, (20 + (this.builds % 30)) / this.demo.speed, this.builds % 8 !== 0);
  }

  /** Runs `action` every `minutes` of the day while the day runs. */
  private every(minutes: number, action: () => void): void {
    this.demo.scenario.schedule(this.ms(minutes), () => {
      if (!this.running) return;
      action();
      this.every(minutes, action);
    });
  }

  private record(incident: Incident, phase: "start" | "end"): void {
    this.announce(`${incident.name} ${phase === "start" ? "starts" : "ends"}: ${TEXT[incident.name][phase]}`);
  }

  private announce(text: string): void {
    const minute = Math.round(this.minuteOf(this.demo.world.now()));
    this.options.announce?.(`  [${minute.toString().padStart(3)} min] ${text}\n`);
  }
}
