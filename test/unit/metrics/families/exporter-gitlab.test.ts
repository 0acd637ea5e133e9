import { describe, expect, it } from "vitest";
import packageJson from "../../../../package.json" with { type: "json" };
import { EXPORTER_GITLAB_FAMILIES, EXPORTER_GITLAB_POLL_FAMILIES } from "../../../../src/metrics/families/exporter-gitlab.js";
import { SelfHealth } from "../../../../src/state/self-health.js";
import { familiesOf } from "../../../helpers/families.js";

function setup() {
  const health = new SelfHealth();
  return { health, ...familiesOf([...EXPORTER_GITLAB_FAMILIES, ...EXPORTER_GITLAB_POLL_FAMILIES], { health }) };
}

describe("the exporter's GitLab families", () => {
  it("tell the build, and the last success as 0 until the first sync and no project counts until the first report", () => {
    const { series } = setup();
    expect(series("gitlab_ci_exporter_build_info")).toEqual([[{ version: packageJson.version }, 1]]);
    expect(series("gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toEqual([[{}, 0]]);
    expect(series("gitlab_ci_exporter_gitlab_projects")).toEqual([]);
    expect(series("gitlab_ci_exporter_gitlab_requests_total")).toEqual([]);
  });

  it("count requests by endpoint and code, and webhook deliveries by event and outcome", () => {
    const { health, series } = setup();
    health.gitlabRequest("/projects/:id/jobs", "200");
    health.gitlabRequest("/projects/:id/jobs", "200");
    health.gitlabRequest("/projects/:id/jobs", "error");
    health.webhookEvent("Job Hook", "accepted");
    health.webhookEvent("Job Hook", "duplicate");
    health.webhookEvent("Job Hook", "accepted");
    expect(series("gitlab_ci_exporter_gitlab_requests_total")).toEqual([
      [{ endpoint: "/projects/:id/jobs", code: "200" }, 2],
      [{ endpoint: "/projects/:id/jobs", code: "error" }, 1],
    ]);
    expect(series("gitlab_ci_exporter_webhook_events_total")).toEqual([
      [{ event: "Job Hook", outcome: "accepted" }, 2],
      [{ event: "Job Hook", outcome: "duplicate" }, 1],
    ]);
  });

  it("tell the last sync in seconds and the hot and idle projects", () => {
    const { health, series, text } = setup();
    health.gitlabSynced(1_773_133_200_123);
    health.watchedProjects(3, 40);
    expect(series("gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toEqual([[{}, 1_773_133_200.123]]);
    expect(series("gitlab_ci_exporter_gitlab_projects")).toEqual([
      [{ state: "hot" }, 3],
      [{ state: "idle" }, 40],
    ]);
    expect(text()).toContain("# TYPE gitlab_ci_exporter_gitlab_requests_total counter\n");
    expect(text()).toContain("gitlab_ci_exporter_gitlab_last_success_timestamp_seconds 1773133200.123\n");
  });
});
