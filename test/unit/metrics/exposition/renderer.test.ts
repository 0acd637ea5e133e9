import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { OMITTED_PROCESS_METRICS, processMetrics } from "../../../../src/metrics/exposition/process.js";
import { Exposition } from "../../../../src/metrics/exposition/renderer.js";
import { CounterFamily } from "../../../../src/metrics/exposition/series.js";
import { parseMetrics } from "../../../helpers/prom.js";

describe("the exposition", () => {
  it("is the head, then every family's kept buffers in order, handed out without copying", async () => {
    const a = new CounterFamily("a_total", "A.", ["k"]);
    const b = new CounterFamily("b_total", "B.", []);
    a.inc({ k: "x" });
    b.inc({});
    const exposition = new Exposition([a, b], async () => "# head\n");
    const buffers = await exposition.buffers();
    expect(buffers[0]!.toString()).toBe("# head\n");
    expect(buffers.slice(1)).toEqual([...a.buffers(), ...b.buffers()]);
    expect(await exposition.text()).toBe(`# head\n${a.render()}${b.render()}`);
    // Unchanged families hand out the very same bytes at the next scrape.
    const again = await exposition.buffers();
    expect(again[2]).toBe(buffers[2]);
  });

  it("leaves the head out when there is none", async () => {
    const a = new CounterFamily("a_total", "A.", []);
    expect(await new Exposition([a]).text()).toBe(a.render());
  });
});

describe("the process metrics", () => {
  it("are prom-client's default collector, rendered at most once per period", async () => {
    let now = 0;
    const render = processMetrics(1000, () => now);
    const first = render();
    expect(render()).toBe(first);
    now = 1001;
    const second = render();
    expect(second).not.toBe(first);
    const names = new Set(parseMetrics(await second).map((s) => s.name));
    expect(names.has("process_cpu_user_seconds_total")).toBe(true);
    expect(names.has("nodejs_heap_size_used_bytes")).toBe(true);
    expect(names.has("nodejs_active_handles_total")).toBe(true);
    expect(names.has("nodejs_eventloop_lag_p99_seconds")).toBe(true);
    // The breakdowns nothing reads are left out, each of them a name prom-client does render.
    for (const omitted of OMITTED_PROCESS_METRICS) expect([...names].filter((name) => name.replace(/_(bucket|sum|count)$/, "") === omitted), omitted).toEqual([]);
    const all = new Registry();
    collectDefaultMetrics({ register: all });
    const defaults = new Set(parseMetrics(await all.metrics()).map((s) => s.name.replace(/_(bucket|sum|count)$/, "")));
    // (The GC histogram and the requests by type have samples only once a collection ran, or a request is pending.)
    for (const omitted of OMITTED_PROCESS_METRICS.filter((name) => !["nodejs_active_requests", "nodejs_gc_duration_seconds"].includes(name))) expect(defaults.has(omitted), omitted).toBe(true);
    expect(names.size).toBeLessThan(defaults.size);
  });
});
