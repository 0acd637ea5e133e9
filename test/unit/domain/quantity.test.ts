import { describe, expect, it } from "vitest";
import { parseQuantity } from "../../../src/domain/quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["1", 1],
    ["0.5", 0.5],
    [".5", 0.5],
    ["100m", 0.1],
    ["250m", 0.25],
    ["1500m", 1.5],
    ["7910m", 7.91],
    ["500u", 0.0005],
    ["100n", 1e-7],
    ["128Mi", 128 * 2 ** 20],
    ["2Gi", 2 * 2 ** 30],
    ["512Ki", 512 * 1024],
    ["1Ti", 2 ** 40],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["1k", 1000],
    ["64M", 64e6],
    ["2G", 2e9],
    ["1T", 1e12],
    ["1e3", 1000],
    ["1E3", 1000],
    ["12e6", 12e6],
    ["1.5e-3", 0.0015],
    ["+2", 2],
    ["-1", -1],
    ["32408356Ki", 32408356 * 1024],
    ["76224326324", 76224326324],
  ])("%s is %d", (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it.each(["", "abc", "1Kb", "1 Gi", "Mi", "1.2.3", "1e", "1ki", "--1", "1Gi2"])("rejects %j", (text) => {
    expect(parseQuantity(text)).toBeNull();
  });
});
