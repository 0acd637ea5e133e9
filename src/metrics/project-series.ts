import type { Counter, Histogram } from "prom-client";

type Removable<L extends string> = Counter<L> | Histogram<L>;

/**
 * Remembers which label sets of a family belong to which project, so that a project that is no
 * longer watched takes exactly its series with it (prom-client can only remove a full label set).
 */
export class ProjectSeries<L extends string> {
  private readonly byProject = new Map<string, Map<string, Partial<Record<L, string>>>>();

  constructor(private readonly family: Removable<L>) {}

  track(project: string, labels: Partial<Record<L, string>>): void {
    let sets = this.byProject.get(project);
    if (!sets) this.byProject.set(project, (sets = new Map()));
    const key = JSON.stringify(labels);
    if (!sets.has(key)) sets.set(key, labels);
  }

  removeProject(project: string): void {
    for (const labels of this.byProject.get(project)?.values() ?? []) this.family.remove(labels);
    this.byProject.delete(project);
  }
}
