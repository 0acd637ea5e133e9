import { describe, expect, it } from "vitest";
import { LineSplitter, LineTooLong } from "../../../../src/sources/kube/lines.js";

const bytes = (text: string) => Buffer.from(text, "utf8");

describe("LineSplitter", () => {
  it("splits lines across chunks, drops the newline and a carriage return before it, and keeps multi-byte characters whole", () => {
    const lines = new LineSplitter(64);
    const euro = bytes("€");
    expect(lines.push(bytes('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(lines.push(Buffer.concat([bytes(':"'), euro.subarray(0, 1)]))).toEqual([]);
    expect(lines.push(Buffer.concat([euro.subarray(1), bytes('"}\r\n\nlast')]))).toEqual(['{"b":"€"}', ""]);
    expect(lines.end()).toBe("last");
    expect(lines.end()).toBeNull();
  });

  it("accepts a line of exactly the cap and refuses one byte more, as soon as it arrives", () => {
    const lines = new LineSplitter(8);
    expect(lines.push(bytes("12345678\n"))).toEqual(["12345678"]);
    expect(lines.push(bytes("1234"))).toEqual([]);
    expect(() => lines.push(bytes("56789"))).toThrow(LineTooLong);
    expect(lines.heldBytes).toBe(0);
  });

  it("never holds more than the cap of a line without end, however it streams in", () => {
    const cap = 1000;
    const lines = new LineSplitter(cap);
    let held = 0;
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      try {
        lines.push(Buffer.alloc(97, 0x78));
        held = Math.max(held, lines.heldBytes);
      } catch (error) {
        expect(error).toBeInstanceOf(LineTooLong);
        refused = true;
      }
    }
    expect(refused).toBe(true);
    expect(held).toBeLessThanOrEqual(cap);
  });

  it("refuses a too long line even when the chunk also completes it", () => {
    const lines = new LineSplitter(4);
    expect(() => lines.push(bytes("ok\n123456\n"))).toThrow(LineTooLong);
  });
});
