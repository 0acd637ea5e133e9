/**
 * Splits a byte stream into newline-terminated lines, holding at most `maxLineBytes` of an
 * unfinished line. Node's `readline` (what client-node's `Watch` uses) buffers a line without end
 * until the string cannot grow any more and the process dies; here a line that passes the cap is
 * refused as soon as it does, and nothing more of it is kept.
 */
export class LineTooLong extends Error {
  constructor(readonly maxLineBytes: number) {
    super(`a line passed ${maxLineBytes} bytes without ending`);
  }
}

export class LineSplitter {
  /** The unfinished line's pieces, in order, and their total length. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines this chunk completes (without their `\n`, or a `\r` before it). Throws `LineTooLong`. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf(0x0a, start); end !== -1; end = chunk.indexOf(0x0a, start)) {
      const tail = chunk.subarray(start, end);
      this.hold(tail);
      lines.push(this.pending.length === 1 ? decode(tail) : decode(Buffer.concat(this.pending, this.pendingBytes)));
      this.pending = [];
      this.pendingBytes = 0;
      start = end + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    return lines;
  }

  /** Bytes of the unfinished line held now: never more than the cap. */
  get heldBytes(): number {
    return this.pendingBytes;
  }

  /** What is left when the stream ends: a last line without its newline, or null. */
  end(): string | null {
    if (this.pendingBytes === 0) return null;
    const line = decode(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  private hold(piece: Buffer): void {
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      throw new LineTooLong(this.maxLineBytes);
    }
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }
}

function decode(line: Buffer): string {
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  return line.toString("utf8", 0, end);
}
