import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ObjectGaugeFamily } from "../../../../src/metrics/exposition/object-gauge.js";
import { ScrapeFamily } from "../../../../src/metrics/exposition/scrape-family.js";
import { CounterFamily, HistogramFamily } from "../../../../src/metrics/exposition/series.js";

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
    const family = new ScrapeFamily("g", "G.", ["k"], () => [[{ k: "v" }, value]]);
    expect(family.render()).toContain('g{k="v"} 1\n');
    value = 2;
    expect(family.render()).toContain('g{k="v"} 2\n');
  });

  it("cut every label value to the byte cap before keying, so values alike once cut are one series", () => {
    const family = new CounterFamily("runs_total", "Runs.", ["runner"], { labelValueMaxBytes: 256 });
    const prefix = "r".repeat(300);
    family.inc({ runner: `${prefix}-a` });
    family.inc({ runner: `${prefix}-b` }, 2);
    family.inc({ runner: "short" });
    expect(family.size).toBe(2);
    expect(family.has({ runner: `${prefix}-zzz` })).toBe(true);
    const lines = family.render().split("\n").filter((line) => line.startsWith("runs_total{"));
    expect(lines).toEqual([`runs_total{runner="${"r".repeat(253)}…"} 3`, 'runs_total{runner="short"} 1']);
    family.removeMatching({ runner: `${prefix}-c` });
    expect(family.size).toBe(1);
  });

  it("bound a scrape of a huge label value by the cap, whatever the value's size", () => {
    const family = new HistogramFamily("h_seconds", "H.", ["runner"], [1, 10]);
    for (let i = 0; i < 20; i++) family.observe({ runner: `${i}-${"x".repeat(900_000)}` }, 1);
    expect(Buffer.byteLength(family.render())).toBeLessThan(20 * 5 * 600);
  });

  it("never let a non-finite value into a histogram", () => {
    const family = new HistogramFamily("h_seconds", "H.", ["project"], [1, 10]);
    family.observe({ project: "a" }, 5);
    family.observe({ project: "a" }, Infinity);
    family.observe({ project: "a" }, Number.NaN);
    family.observe({ project: "a" }, -Infinity);
    expect(family.render()).toContain('h_seconds_sum{project="a"} 5\nh_seconds_count{project="a"} 1\n');
  });

  it("combine computed samples whose label sets are alike once cut, then apply the cap", () => {
    const long = "t".repeat(400);
    const samples = (): Array<[{ tags: string }, number]> => [
      [{ tags: `${long},a` }, 300],
      [{ tags: `${long},b` }, 100],
      [{ tags: "c" }, 200],
    ];
    const earliest = new ScrapeFamily("oldest", "O.", ["tags"], samples, { labelValueMaxBytes: 256, combine: Math.min });
    expect(earliest.render().split("\n").filter((l) => l.startsWith("oldest{"))).toEqual([`oldest{tags="${"t".repeat(253)}…"} 100`, 'oldest{tags="c"} 200']);
    let refused = 0;
    const summed = new ScrapeFamily("pending", "P.", ["tags"], samples, { labelValueMaxBytes: 256, limit: { maxPerFamily: 1, refused: (_family, n) => (refused += n) } });
    expect(summed.render().split("\n").filter((l) => l.startsWith("pending{"))).toEqual([`pending{tags="${"t".repeat(253)}…"} 400`]);
    expect(refused).toBe(1);
  });

  it("write an object's samples alike once cut only once", () => {
    const family = new ObjectGaugeFamily("info", "I.", ["pod", "ref"], { labelValueMaxBytes: 256 });
    const ref = "r".repeat(300);
    family.set("uid-1", [
      [{ pod: "p", ref: `${ref}1` }, 1],
      [{ pod: "p", ref: `${ref}2` }, 1],
    ]);
    expect(family.size).toBe(1);
    expect(family.render()).toContain(`info{pod="p",ref="${"r".repeat(253)}…"} 1\n`);
  });
});
