import { describe, expect, it } from "vitest";
import { seriesLimit } from "../../../../src/metrics/exposition/generator.js";
import { ObjectGaugeFamily } from "../../../../src/metrics/exposition/object-gauge.js";
import { ScrapeFamily } from "../../../../src/metrics/exposition/scrape-family.js";
import { CounterFamily, HistogramFamily } from "../../../../src/metrics/exposition/series.js";
import { parseMetrics, sum } from "../../../helpers/prom.js";

/** Each family kind applies the cap itself and counts what it leaves out in the dropped family. */
function capped(max: number) {
  const dropped = new CounterFamily("dropped_total", "Dropped.", ["family"]);
  const options = { limit: seriesLimit(max, dropped), labelValueMaxBytes: 256 };
  const droppedOf = (family: string) => sum(parseMetrics(dropped.render()), "dropped_total", { family });
  return { options, droppedOf };
}

describe("the series cap built into every family kind", () => {
  it("refuses a counter's new label sets past the cap, counts each refused update, and lets existing series move", () => {
    const { options, droppedOf } = capped(2);
    const family = new CounterFamily("c_total", "C.", ["k"], options);
    family.inc({ k: "a" });
    family.inc({ k: "b" });
    family.inc({ k: "c" });
    family.inc({ k: "c" });
    family.inc({ k: "a" }, 5);
    expect(parseMetrics(family.render()).map((s) => [s.labels.k, s.value])).toEqual([["a", 6], ["b", 1]]);
    expect(droppedOf("c_total")).toBe(2);
  });

  it("refuses a histogram's new label sets past the cap, and a series removed makes room", () => {
    const { options, droppedOf } = capped(1);
    const family = new HistogramFamily("h_seconds", "H.", ["project"], [10], options);
    family.observe({ project: "a" }, 3);
    family.observe({ project: "b" }, 3);
    expect(droppedOf("h_seconds")).toBe(1);
    family.removeMatching({ project: "a" });
    family.observe({ project: "b" }, 30);
    const samples = parseMetrics(family.render());
    expect(sum(samples, "h_seconds_count", { project: "b" })).toBe(1);
    expect(sum(samples, "h_seconds_bucket", { project: "b", le: "10" })).toBe(0);
    expect(samples.filter((s) => s.labels.project === "a")).toEqual([]);
  });

  it("refuses a new object whose samples do not fit, counting its samples; an object already in may change", () => {
    const { options, droppedOf } = capped(3);
    const family = new ObjectGaugeFamily("o", "O.", ["pod", "c"], options);
    family.set("p1", [[{ pod: "p1", c: "x" }, 1], [{ pod: "p1", c: "y" }, 1]]);
    family.set("p2", [[{ pod: "p2", c: "x" }, 1], [{ pod: "p2", c: "y" }, 1]]);
    expect(family.has("p2")).toBe(false);
    expect(droppedOf("o")).toBe(2);
    family.set("p1", [[{ pod: "p1", c: "x" }, 2], [{ pod: "p1", c: "y" }, 2], [{ pod: "p1", c: "z" }, 2]]);
    expect(family.size).toBe(3);
    family.delete("p1");
    family.set("p2", [[{ pod: "p2", c: "x" }, 1]]);
    expect(parseMetrics(family.render()).map((s) => s.labels.pod)).toEqual(["p2"]);
  });

  it("writes a scrape-time family's first label sets and counts each one left out once while it stays out", () => {
    const { options, droppedOf } = capped(2);
    let keys = ["a", "b", "c", "d"];
    const family = new ScrapeFamily("g", "G.", ["k"], () => keys.map((k) => [{ k }, 1] as const), options);
    expect(parseMetrics(family.render()).map((s) => s.labels.k)).toEqual(["a", "b"]);
    family.render();
    expect(droppedOf("g")).toBe(2);
    keys = ["a", "b", "c", "d", "e"];
    family.render();
    expect(droppedOf("g")).toBe(3);
  });

  it("renders a scrape-time counter with the counter type", () => {
    const family = new ScrapeFamily("x_total", "X.", [], () => [[{}, 4]], { type: "counter" });
    expect(family.render()).toBe("# HELP x_total X.\n# TYPE x_total counter\nx_total 4\n");
  });
});
