import type { Logger } from "pino";
import type { WatchedProject } from "../../state/projects.js";
import type { GitLabApi } from "./api.js";
import { GitLabRequestError } from "./transport.js";

/**
 * Resolves the configured projects and groups into the set of projects to watch. A configured
 * project that is gone or forbidden is skipped with a warning (and retried at the next
 * discovery); a failure to list a group fails the whole discovery, so a GitLab outage never
 * empties the watched set.
 */
export async function discoverProjects(
  api: GitLabApi,
  projects: readonly string[],
  groups: readonly string[],
  log: Logger,
): Promise<WatchedProject[]> {
  const found = new Map<number, WatchedProject>();
  for (const group of groups) {
    let projects;
    try {
      projects = await api.groupProjects(group);
    } catch (error) {
      if (isGoneOrForbidden(error)) {
        log.warn({ group, status: (error as GitLabRequestError).status }, "configured group not found or not readable with this token; skipped");
        continue;
      }
      throw error;
    }
    for (const project of projects) {
      if (!project.archived) found.set(project.id, { id: project.id, path: project.path_with_namespace });
    }
  }
  for (const ref of projects) {
    try {
      const project = await api.project(/^\d+$/.test(ref) ? Number(ref) : ref);
      if (project.archived) {
        log.warn({ project: project.path_with_namespace }, "configured project is archived and runs no jobs; not watched");
        continue;
      }
      found.set(project.id, { id: project.id, path: project.path_with_namespace });
    } catch (error) {
      if (isGoneOrForbidden(error)) {
        log.warn({ project: ref, status: (error as GitLabRequestError).status }, "configured project not found or not readable with this token; skipped");
        continue;
      }
      throw error;
    }
  }
  return [...found.values()].sort((a, b) => a.id - b.id);
}

function isGoneOrForbidden(error: unknown): boolean {
  return error instanceof GitLabRequestError && (error.status === 404 || error.status === 403);
}
