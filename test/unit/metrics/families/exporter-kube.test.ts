import { describe, expect, it } from "vitest";
import { EXPORTER_KUBE_FAMILIES } from "../../../../src/metrics/families/exporter-kube.js";
import { SelfHealth } from "../../../../src/state/self-health.js";
import { familiesOf } from "../../../helpers/families.js";

describe("the exporter's Kubernetes families", () => {
  it("declare each watched resource's restarts at zero, count restarts, and tell the last event in seconds", () => {
    const health = new SelfHealth();
    const { series } = familiesOf(EXPORTER_KUBE_FAMILIES, { health });
    health.watchStarted("nodes");
    health.watchStarted("pods");
    health.watchRestarted("pods");
    health.watchRestarted("pods");
    health.watchStarted("pods");
    health.eventSeen("pods", 1_000_500);
    health.eventSeen("pods", 2_000_000);
    expect(series("gitlab_ci_exporter_kube_watch_restarts_total")).toEqual([
      [{ resource: "nodes" }, 0],
      [{ resource: "pods" }, 2],
    ]);
    expect(series("gitlab_ci_exporter_kube_last_event_timestamp_seconds")).toEqual([[{ resource: "pods" }, 2000]]);
  });
});
