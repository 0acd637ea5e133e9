import type { JobStatus } from "../domain/job.js";

export interface GroupTotals {
  readonly pending: number;
  readonly running: number;
  /** Unix ms at which the longest-waiting pending job entered the queue; null when none pends. */
  readonly oldestQueuedAtMs: number | null;
}

/** What a live job adds to its group. */
export interface GroupedJob {
  readonly id: number;
  readonly projectId: number;
  readonly tags: string;
  readonly status: JobStatus;
  readonly queuedAtMs: number | null;
}

interface Group {
  /** Pending job id → when it entered the queue (null when unknown). */
  readonly pending: Map<number, number | null>;
  running: number;
}

/**
 * Pending and running jobs per project and tag set, kept current as jobs change so that a scrape
 * reads totals, not jobs. Empty groups leave at once.
 */
export class JobGroups {
  private readonly groups = new Map<number, Map<string, Group>>();

  /** Adds (+1) or removes (-1) a job's contribution to its group's totals. */
  account(job: GroupedJob, sign: 1 | -1): void {
    if (job.status !== "pending" && job.status !== "running") return;
    let byTags = this.groups.get(job.projectId);
    if (!byTags) this.groups.set(job.projectId, (byTags = new Map()));
    let group = byTags.get(job.tags);
    if (!group) byTags.set(job.tags, (group = { pending: new Map(), running: 0 }));
    if (job.status === "pending") {
      if (sign > 0) group.pending.set(job.id, job.queuedAtMs);
      else group.pending.delete(job.id);
    } else {
      group.running += sign;
    }
    if (group.pending.size === 0 && group.running === 0) {
      byTags.delete(job.tags);
      if (byTags.size === 0) this.groups.delete(job.projectId);
    }
  }

  /** Pending and running totals per project and tag set. */
  totals(): Map<number, Map<string, GroupTotals>> {
    const result = new Map<number, Map<string, GroupTotals>>();
    for (const [projectId, byTags] of this.groups) {
      const totals = new Map<string, GroupTotals>();
      for (const [tags, group] of byTags) {
        let oldestQueuedAtMs: number | null = null;
        for (const queuedAtMs of group.pending.values()) {
          if (queuedAtMs !== null && (oldestQueuedAtMs === null || queuedAtMs < oldestQueuedAtMs)) oldestQueuedAtMs = queuedAtMs;
        }
        totals.set(tags, { pending: group.pending.size, running: group.running, oldestQueuedAtMs });
      }
      result.set(projectId, totals);
    }
    return result;
  }
}
