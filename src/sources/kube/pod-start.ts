import { z } from "zod";
import { RUNNER_BUILD_CONTAINER } from "../../domain/builder.js";
import type { PodStart } from "../../domain/pod.js";
import type { FieldChecks } from "../../domain/plausibility.js";

/**
 * The part of a Pod's status that tells how far a CI job pod got towards running: its
 * `PodScheduled` condition, and each container's state (waiting with a reason, running since,
 * terminated). Read for job pods only; the schemas name only the fields read.
 */
const timestamp = z.union([z.string(), z.date()]).nullish();

export const containerState = z
  .object({
    waiting: z.object({ reason: z.string().nullish() }).nullish(),
    running: z.object({ startedAt: timestamp }).nullish(),
    terminated: z.object({ exitCode: z.number(), startedAt: timestamp, finishedAt: timestamp }).nullish(),
  })
  .nullish();

export const containerStatus = z.object({ name: z.string(), state: containerState, lastState: containerState });

type WireContainerState = z.infer<typeof containerState>;
type WireContainerStatus = z.infer<typeof containerStatus>;

interface WireCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string | null | undefined;
  readonly lastTransitionTime?: string | Date | null | undefined;
}

export interface WirePodStart {
  readonly creationTimestamp: string | Date | null | undefined;
  /** The names of `spec.containers`, in order. */
  readonly containers: readonly string[];
  readonly conditions: readonly WireCondition[];
  readonly initContainerStatuses: readonly WireContainerStatus[];
  readonly containerStatuses: readonly WireContainerStatus[];
}

const NO_REASONS: readonly string[] = Object.freeze([]);

/** The job pod's way to running, each time checked (a refused one is counted and left unknown). */
export function podStart(times: FieldChecks, wire: WirePodStart): PodStart {
  const createdAtMs = times.timestamp("metadata.creationTimestamp", timeMs(wire.creationTimestamp), wire.creationTimestamp);
  const scheduled = wire.conditions.find((c) => c.type === "PodScheduled");
  const scheduledAtMs = scheduled?.status === "True" ? times.timestamp("conditions.PodScheduled.lastTransitionTime", timeMs(scheduled.lastTransitionTime), scheduled.lastTransitionTime) : null;
  const buildName = wire.containers.includes(RUNNER_BUILD_CONTAINER) ? RUNNER_BUILD_CONTAINER : wire.containers[0];
  const build = wire.containerStatuses.find((s) => s.name === buildName);
  const buildStartedAtMs = build ? firstStart(times, build) : null;
  const waitingReasons: string[] = [];
  for (const status of [...wire.initContainerStatuses, ...wire.containerStatuses]) {
    if (status.state?.waiting) waitingReasons.push(status.state.waiting.reason ?? "");
  }
  return {
    createdAtMs,
    unschedulable: scheduled?.status === "False" && scheduled.reason === "Unschedulable",
    waitingReasons: waitingReasons.length === 0 ? NO_REASONS : waitingReasons,
    allStarted: wire.containers.length > 0 && wire.containers.every((name) => hasStarted(wire.containerStatuses.find((s) => s.name === name))),
    startupSeconds: since(times, "startup", createdAtMs, buildStartedAtMs),
    schedulingSeconds: since(times, "scheduling", createdAtMs, scheduledAtMs),
    scheduledAtMs,
  };
}

/** A container runs, or ran: its state or its last state says so. */
function hasStarted(status: WireContainerStatus | undefined): boolean {
  return status !== undefined && (isStarted(status.state) || isStarted(status.lastState));
}

function isStarted(state: WireContainerState): boolean {
  return Boolean(state?.running || state?.terminated);
}

/** When the container first started: its last run's start, else its current one's. */
function firstStart(times: FieldChecks, status: WireContainerStatus): number | null {
  for (const state of [status.lastState, status.state]) {
    const startedAt = state?.terminated?.startedAt ?? state?.running?.startedAt;
    if (startedAt !== null && startedAt !== undefined) return times.timestamp("containerStatuses.startedAt", timeMs(startedAt), startedAt);
  }
  return null;
}

function since(times: FieldChecks, field: string, fromMs: number | null, toMs: number | null): number | null {
  if (fromMs === null || toMs === null) return null;
  return times.duration(`${field}Seconds`, (toMs - fromMs) / 1000);
}

/** Unix ms; NaN when the value is there but names no moment, so the check can count it. */
export function timeMs(value: string | Date | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}
