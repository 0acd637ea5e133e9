import type { WatchedProject } from "../domain/events.js";
import { Listeners } from "../lib/listeners.js";


/** The projects the exporter watches, as discovery last found them. */
export class ProjectRegistry {
  private readonly byId = new Map<number, WatchedProject>();
  /** A project left the watched set, or was renamed (its old path leaves). */
  readonly onRemoved = new Listeners<WatchedProject>();

  /** Replaces the watched set; returns the projects that were added. */
  replaceAll(projects: readonly WatchedProject[]): WatchedProject[] {
    const next = new Map(projects.map((p) => [p.id, p]));
    for (const [id, project] of this.byId) {
      if (!next.has(id)) this.remove(id, project);
    }
    const added: WatchedProject[] = [];
    for (const project of next.values()) {
      const previous = this.byId.get(project.id);
      if (previous && previous.path !== project.path) {
        // A renamed project: its old series go, new ones come under the new path.
        this.remove(project.id, previous);
      }
      if (!this.byId.has(project.id)) added.push(project);
      this.byId.set(project.id, project);
    }
    return added;
  }

  /** Adds one project (or renames it), e.g. when a project readable again is watched again. */
  add(project: WatchedProject): boolean {
    const previous = this.byId.get(project.id);
    if (previous?.path === project.path) return false;
    if (previous) this.remove(project.id, previous);
    this.byId.set(project.id, project);
    return true;
  }

  removeById(id: number): void {
    const project = this.byId.get(id);
    if (project) this.remove(id, project);
  }

  get(id: number): WatchedProject | undefined {
    return this.byId.get(id);
  }

  pathOf(id: number): string | undefined {
    return this.byId.get(id)?.path;
  }

  all(): WatchedProject[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  private remove(id: number, project: WatchedProject): void {
    this.byId.delete(id);
    this.onRemoved.emit(project);
  }
}
