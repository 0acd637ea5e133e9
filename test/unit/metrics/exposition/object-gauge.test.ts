import { Gauge, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ObjectGaugeFamily } from "../../../../src/metrics/exposition/object-gauge.js";

describe("object gauge families", () => {
  it("render exactly as prom-client does, and drop an object's lines with it", async () => {
    const registry = new Registry();
    const reference = new Gauge({ name: "pod_info", help: "Pods.", labelNames: ["pod", "ref"], registers: [registry] });
    const ours = new ObjectGaugeFamily("pod_info", "Pods.", ["pod", "ref"]);
    reference.set({ pod: "a", ref: 'feature/"quoted"\\x' }, 1);
    reference.set({ pod: "b", ref: "main" }, 0.25);
    ours.set("uid-a", [[{ pod: "a", ref: 'feature/"quoted"\\x' }, 1]]);
    ours.set("uid-b", [[{ pod: "b", ref: "main" }, 0.25]]);
    expect(ours.render()).toBe(await registry.metrics());
    ours.delete("uid-a");
    expect(ours.render()).toBe('# HELP pod_info Pods.\n# TYPE pod_info gauge\npod_info{pod="b",ref="main"} 0.25\n');
    expect(ours.size).toBe(1);
  });

  it("keep several lines per object and count samples", () => {
    const family = new ObjectGaugeFamily("r", "R.", ["container"]);
    family.set("p", [
      [{ container: "build" }, 1],
      [{ container: "helper" }, 2],
    ]);
    family.set("q", [[{ container: "build" }, 3]]);
    expect(family.size).toBe(3);
    expect(family.objectCount).toBe(2);
    family.set("p", []);
    expect(family.size).toBe(1);
    expect(family.has("p")).toBe(false);
  });
});
