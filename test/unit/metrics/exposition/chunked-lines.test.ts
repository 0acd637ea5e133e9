import fc from "fast-check";
import { Gauge, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ChunkedLines } from "../../../../src/metrics/exposition/chunked-lines.js";
import { ObjectGaugeFamily } from "../../../../src/metrics/exposition/object-gauge.js";

const line = (key: string, value = 1) => `m{k="${key}"} ${value}\n`;
const text = (lines: ChunkedLines<null>) => Buffer.concat(lines.buffers()).toString();

describe("chunked lines", () => {
  it("keep insertion order across chunks, updates in place, and drop deleted entries", () => {
    const lines = new ChunkedLines<null>(2);
    for (const key of ["a", "b", "c", "d", "e"]) lines.set(key, null, line(key));
    lines.set("b", null, line("b", 2));
    lines.delete("c");
    lines.delete("d");
    lines.set("c", null, line("c", 3));
    expect(text(lines)).toBe('m{k="a"} 1\nm{k="b"} 2\nm{k="e"} 1\nm{k="c"} 3\n');
    expect(lines.size).toBe(4);
    expect([...lines.values()].length).toBe(4);
  });

  it("re-encode only the chunk a change touched", () => {
    const lines = new ChunkedLines<null>(2);
    for (const key of ["a", "b", "c", "d"]) lines.set(key, null, line(key));
    const before = lines.buffers();
    expect(before).toHaveLength(2);
    lines.set("d", null, line("d", 9));
    const after = lines.buffers();
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    expect(lines.buffers()[1]).toBe(after[1]);
  });

  it("render an object family exactly as prom-client renders the same gauge, through any sequence of changes", async () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant("set" as const), key: fc.integer({ min: 0, max: 400 }), value: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ op: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 400 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 600 }), async (operations) => {
        const registry = new Registry();
        const reference = new Gauge({ name: "pod_info", help: "Pods.", labelNames: ["pod"], registers: [registry] });
        const ours = new ObjectGaugeFamily("pod_info", "Pods.", ["pod"]);
        for (const operation of operations) {
          const pod = `p${operation.key}`;
          if (operation.op === "set") {
            reference.set({ pod }, operation.value);
            ours.set(pod, [[{ pod }, operation.value]]);
          } else {
            reference.remove({ pod });
            ours.delete(pod);
          }
        }
        expect(ours.render()).toBe(await registry.metrics());
      }),
      { numRuns: 200 },
    );
  });
});
