import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Jsonnet } from "@hanazuki/node-jsonnet";
import { ROOT } from "../../mixin/render.js";
import { SCRAPE_SHAPES } from "../helpers/scrape-shapes.js";

/** The README's "Selectors for your monitoring stack" table: per stack, the `_config` it gives. */
async function documentedSelectors(): Promise<Map<string, Record<string, string>>> {
  const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
  const table = /<!-- scrape-shapes:begin -->\n([\s\S]*?)<!-- scrape-shapes:end -->/.exec(readme)?.[1] ?? "";
  const rows = table.split("\n").filter((line) => line.startsWith("|"));
  const keys = rows[0]!.split("|").slice(2, -1).map((cell) => cell.trim().replaceAll("`", ""));
  return new Map(
    rows.slice(2).map((row) => {
      const [stack, ...values] = row.split("|").slice(1, -1).map((cell) => cell.trim());
      return [stack!, Object.fromEntries(keys.map((key, i) => [key, values[i]!.replace(/^`|`$/g, "")]))] as const;
    }),
  );
}

describe("the README's selectors for each monitoring stack", () => {
  it("are the values the end-to-end test runs each stack's scrape with, the defaults filled in", async () => {
    const documented = await documentedSelectors();
    const config = await configDefaults();
    expect([...documented.keys()]).toEqual(SCRAPE_SHAPES.map((shape) => shape.name));
    for (const shape of SCRAPE_SHAPES) {
      const expected = Object.fromEntries(Object.keys(documented.get(shape.name)!).map((key) => [key, shape.overrides[key] ?? config[key]!]));
      expect(documented.get(shape.name), shape.name).toEqual(expected);
    }
  });
});

/** The mixin's `_config` defaults of the selector settings, as jsonnet evaluates them. */
async function configDefaults(): Promise<Record<string, string>> {
  const text = await new Jsonnet().evaluateSnippet("(import 'config.libsonnet')._config", path.join(ROOT, "mixin", "defaults.jsonnet"));
  return JSON.parse(text) as Record<string, string>;
}
