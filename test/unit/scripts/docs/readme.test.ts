import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exporterFamilyNames, renderReadme } from "../../../../scripts/docs/reference.js";
import { SETTINGS } from "../../../../src/config/settings.js";

const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");

describe("README references", () => {
  it("are up to date with the settings table and the registry (run `npm run docs`)", () => {
    expect(renderReadme(readme)).toBe(readme);
  });

  it("list every setting and every family, and nothing else", () => {
    const documentedSettings = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documentedSettings.sort()).toEqual(SETTINGS.map((s) => s.name).sort());
    const documentedFamilies = [...readme.matchAll(/^\| `(gitlab_ci_[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documentedFamilies.sort()).toEqual(exporterFamilyNames());
  });
});
