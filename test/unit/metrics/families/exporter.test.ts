import { describe, expect, it } from "vitest";
import { rejectionReporter } from "../../../../src/lib/rejections.js";
import { seriesLimit } from "../../../../src/metrics/exposition/generator.js";
import { CounterFamily } from "../../../../src/metrics/exposition/series.js";
import { EXPORTER_FAMILIES, seriesDroppedFamily } from "../../../../src/metrics/families/exporter.js";
import { SelfHealth } from "../../../../src/state/self-health.js";
import { familiesOf } from "../../../helpers/families.js";
import { parseMetrics } from "../../../helpers/prom.js";

describe("the exporter-wide families", () => {
  it("count every rejection by source and reason", () => {
    const health = new SelfHealth();
    const { series } = familiesOf(EXPORTER_FAMILIES, { health });
    const rejections = rejectionReporter((source, reason) => health.invalidObject(source, reason), { warn: () => undefined });
    rejections.reject("gitlab_webhook", "future_timestamp");
    rejections.reject("kube_pods", "schema");
    rejections.reject("gitlab_webhook", "future_timestamp");
    expect(series("gitlab_ci_exporter_invalid_objects_total")).toEqual([
      [{ source: "gitlab_webhook", reason: "future_timestamp" }, 2],
      [{ source: "kube_pods", reason: "schema" }, 1],
    ]);
  });

  it("count the samples each capped family left out, by family", () => {
    const dropped = seriesDroppedFamily();
    const family = new CounterFamily("x_total", "X.", ["k"], { limit: seriesLimit(1, dropped) });
    for (const k of ["a", "b", "c", "a"]) family.inc({ k });
    expect(parseMetrics(dropped.render())).toEqual([{ name: "gitlab_ci_exporter_series_dropped_total", labels: { family: "x_total" }, value: 2 }]);
    expect(dropped.type).toBe("counter");
  });
});
