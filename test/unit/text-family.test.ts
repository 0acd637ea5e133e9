import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ComputedGaugeFamily, CounterFamily, HistogramFamily } from "../../src/metrics/text-family.js";

/** prom-client is the reference rendering; the pre-rendered families must say exactly the same. */
describe("pre-rendered families", () => {
  it("render counters exactly as prom-client does, escaping label values", async () => {
    const registry = new Registry();
    const reference = new Counter({ name: "x_total", help: "Things.", labelNames: ["project", "reason"], registers: [registry] });
    const ours = new CounterFamily("x_total", "Things.", ["project", "reason"]);
    const cases = [
      { project: "acme/api", reason: "" },
      { project: 'we"ird\\pa\nth', reason: "script_failure" },
      { project: "acme/api", reason: "" },
    ];
    for (const labels of cases) {
      reference.inc(labels);
      ours.inc(labels);
    }
    expect(ours.render()).toBe(await registry.metrics());
  });

  it("render histograms exactly as prom-client does", async () => {
    const registry = new Registry();
    const buckets = [1, 5, 10, 30.5];
    const reference = new Histogram({ name: "d_seconds", help: "Durations.", labelNames: ["project"], buckets, registers: [registry] });
    const ours = new HistogramFamily("d_seconds", "Durations.", ["project"], buckets);
    for (const [project, value] of [["a", 0.5], ["a", 7], ["b", 100], ["a", 30.5], ["b", 1]] as const) {
      reference.observe({ project }, value);
      ours.observe({ project }, value);
    }
    expect(ours.render()).toBe(await registry.metrics());
  });

  it("take a removed series' lines away, and only those", () => {
    const family = new CounterFamily("y_total", "Y.", ["project"]);
    family.inc({ project: "a" });
    family.inc({ project: "b" });
    family.removeWhere((labels) => labels.project === "a");
    expect(family.render()).toBe('# HELP y_total Y.\n# TYPE y_total counter\ny_total{project="b"} 1\n');
    expect(family.size).toBe(1);
  });

  it("read computed gauges afresh at each render", () => {
    let value = 1;
    const family = new ComputedGaugeFamily("g", "G.", ["k"], () => [[{ k: "v" }, value]]);
    expect(family.render()).toContain('g{k="v"} 1\n');
    value = 2;
    expect(family.render()).toContain('g{k="v"} 2\n');
  });
});
