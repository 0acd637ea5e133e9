import { describe, expect, it } from "vitest";
import { Listeners } from "../../../../src/lib/listeners.js";
import { buildFamilies, counter, histogram, objectGauge, scrapeCounter, scrapeGauge, type FamilyGenerator } from "../../../../src/metrics/exposition/generator.js";
import { parseMetrics } from "../../../helpers/prom.js";

interface Toy {
  readonly sold: Listeners<{ fruit: string; grams: number }>;
  readonly shelf: Map<string, number>;
}

const TOY_FAMILIES: readonly FamilyGenerator<Toy>[] = [
  counter({ name: "sold_total", help: "Sold.", labels: ["fruit"], connect: (toy, family) => toy.sold.add(({ fruit }) => family.inc({ fruit })) }),
  histogram({ name: "sold_grams", help: "Weights.", labels: ["fruit"], buckets: [100], connect: (toy, family) => toy.sold.add(({ fruit, grams }) => family.observe({ fruit }, grams)) }),
  objectGauge({ name: "last_grams", help: "Last.", labels: ["fruit"], connect: (toy, family) => toy.sold.add(({ fruit, grams }) => family.set(fruit, [[{ fruit }, grams]])) }),
  scrapeGauge({ name: "shelf", help: "On the shelf.", labels: ["fruit"], samples: (toy) => [...toy.shelf].map(([fruit, n]) => [{ fruit }, n] as const) }),
  scrapeCounter({ name: "shelved_total", help: "Shelved.", labels: [], samples: (toy) => [[{}, toy.shelf.size]] }),
];

describe("family generators", () => {
  it("describe each family as data and build it connected to the state it reads", () => {
    expect(TOY_FAMILIES.map((g) => [g.name, g.type, g.labels])).toEqual([
      ["sold_total", "counter", ["fruit"]],
      ["sold_grams", "histogram", ["fruit"]],
      ["last_grams", "gauge", ["fruit"]],
      ["shelf", "gauge", ["fruit"]],
      ["shelved_total", "counter", []],
    ]);
    const toy: Toy = { sold: new Listeners(), shelf: new Map([["apple", 3]]) };
    const families = buildFamilies(TOY_FAMILIES, {}, toy);
    toy.sold.emit({ fruit: "apple", grams: 150 });
    toy.sold.emit({ fruit: "apple", grams: 90 });
    toy.shelf.set("pear", 1);
    const samples = parseMetrics(families.map((f) => f.render()).join(""));
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value("sold_total", { fruit: "apple" })).toBe(2);
    expect(value("sold_grams_bucket", { fruit: "apple", le: "100" })).toBe(1);
    expect(value("sold_grams_sum", { fruit: "apple" })).toBe(240);
    expect(value("last_grams", { fruit: "apple" })).toBe(90);
    expect(value("shelf", { fruit: "pear" })).toBe(1);
    expect(value("shelved_total")).toBe(2);
  });
});
