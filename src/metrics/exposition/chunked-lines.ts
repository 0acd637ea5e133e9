/**
 * Entries with exposition lines, kept in insertion order and grouped in chunks whose bytes are
 * encoded once per change. A scrape hands out the chunks' buffers as they are, so its cost does
 * not grow with the family: a change re-encodes one chunk, not the family, and an unchanged
 * family costs nothing. Updating an entry keeps its place, as prom-client keeps a label set's.
 *
 * An entry's lines live only in its chunk's bytes (as an offset and a length), not also as a
 * string: for 10,000 job pods that halves what the rendered families take.
 */
interface Slot<E> {
  entry: E;
  start: number;
  length: number;
  /** New lines not yet encoded into the chunk. */
  pending: string | null;
}

interface Chunk<E> {
  readonly id: number;
  readonly slots: Map<string, Slot<E>>;
  /** Entries ever placed here; a chunk takes no more once it has had `chunkSize`. */
  placed: number;
  bytes: Buffer;
  dirty: boolean;
}

const EMPTY = Buffer.alloc(0);

export class ChunkedLines<E> {
  private readonly chunkOf = new Map<string, Chunk<E>>();
  private readonly chunks = new Map<number, Chunk<E>>();
  private open: Chunk<E> | null = null;
  private nextId = 0;

  constructor(private readonly chunkSize = 128) {}

  get(key: string): E | undefined {
    return this.chunkOf.get(key)?.slots.get(key)?.entry;
  }

  has(key: string): boolean {
    return this.chunkOf.has(key);
  }

  /** The entry's current lines. */
  textOf(key: string): string | undefined {
    const chunk = this.chunkOf.get(key);
    const slot = chunk?.slots.get(key);
    if (!chunk || !slot) return undefined;
    return slot.pending ?? chunk.bytes.toString("utf8", slot.start, slot.start + slot.length);
  }

  /** Adds the entry with its lines, or replaces both in place. */
  set(key: string, entry: E, text: string): void {
    let chunk = this.chunkOf.get(key);
    if (!chunk) {
      if (!this.open || this.open.placed >= this.chunkSize) {
        this.open = { id: this.nextId++, slots: new Map(), placed: 0, bytes: EMPTY, dirty: false };
        this.chunks.set(this.open.id, this.open);
      }
      chunk = this.open;
      chunk.placed++;
      this.chunkOf.set(key, chunk);
    }
    const slot = chunk.slots.get(key);
    if (slot) {
      slot.entry = entry;
      slot.pending = text;
    } else {
      chunk.slots.set(key, { entry, start: 0, length: 0, pending: text });
    }
    chunk.dirty = true;
  }

  delete(key: string): boolean {
    const chunk = this.chunkOf.get(key);
    if (!chunk) return false;
    this.chunkOf.delete(key);
    chunk.slots.delete(key);
    chunk.dirty = true;
    if (chunk.slots.size === 0 && chunk !== this.open) this.chunks.delete(chunk.id);
    return true;
  }

  *entries(): IterableIterator<[string, E]> {
    for (const chunk of this.chunks.values()) for (const [key, slot] of chunk.slots) yield [key, slot.entry];
  }

  *values(): IterableIterator<E> {
    for (const chunk of this.chunks.values()) for (const slot of chunk.slots.values()) yield slot.entry;
  }

  get size(): number {
    return this.chunkOf.size;
  }

  /** The lines of every entry, in order, as buffers encoded at most once per change. */
  buffers(): Buffer[] {
    const out: Buffer[] = [];
    for (const chunk of this.chunks.values()) {
      if (chunk.dirty) this.encode(chunk);
      if (chunk.bytes.length > 0) out.push(chunk.bytes);
    }
    return out;
  }

  /** New bytes for the chunk: unchanged entries copied from the old ones, changed ones encoded. */
  private encode(chunk: Chunk<E>): void {
    const parts: Buffer[] = [];
    let offset = 0;
    for (const slot of chunk.slots.values()) {
      const part = slot.pending !== null ? Buffer.from(slot.pending) : chunk.bytes.subarray(slot.start, slot.start + slot.length);
      slot.pending = null;
      slot.start = offset;
      slot.length = part.length;
      offset += part.length;
      parts.push(part);
    }
    chunk.bytes = Buffer.concat(parts, offset);
    chunk.dirty = false;
  }
}
