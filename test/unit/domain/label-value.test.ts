import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CUT_MARKER, cutLabelValue } from "../../../src/domain/label-value.js";

describe("label value cut", () => {
  it("leaves a value that fits as it is", () => {
    expect(cutLabelValue("docker,linux", 16)).toBe("docker,linux");
    expect(cutLabelValue("é".repeat(8), 16)).toBe("é".repeat(8));
  });

  it("cuts a longer value to the byte budget, marker included", () => {
    const cut = cutLabelValue("x".repeat(900_000), 512);
    expect(Buffer.byteLength(cut)).toBe(512);
    expect(cut).toBe(`${"x".repeat(509)}${CUT_MARKER}`);
  });

  it("never splits a character, whatever its UTF-8 length", () => {
    // "é" takes 2 bytes, "€" 3, "𝄞" 4 (a surrogate pair).
    expect(cutLabelValue("ab€€€€", 10)).toBe(`ab€${CUT_MARKER}`);
    expect(cutLabelValue("𝄞𝄞𝄞", 10)).toBe(`𝄞${CUT_MARKER}`);
  });

  it("always fits, ends in the marker when cut, and keeps a prefix of whole characters (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), fc.integer({ min: 3, max: 200 }), (value, maxBytes) => {
        const cut = cutLabelValue(value, maxBytes);
        expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(maxBytes);
        if (cut === value) return;
        expect(cut.endsWith(CUT_MARKER)).toBe(true);
        const kept = cut.slice(0, -CUT_MARKER.length);
        expect(value.startsWith(kept)).toBe(true);
        expect(Buffer.from(kept).toString()).toBe(kept);
      }),
      { numRuns: 200 },
    );
  });
});
