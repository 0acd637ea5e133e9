/**
 * Entries with exposition lines, kept in insertion order and grouped in chunks whose bytes are
 * encoded once per change. A scrape hands out the chunks' buffers as they are, so its cost does
 * not grow with the family: a change re-encodes one chunk, not the family, and an unchanged
 * family costs nothing. Updating an entry keeps its place, as prom-client keeps a label set's.
 */
interface Chunk<E> {
  readonly id: number;
  readonly entries: Map<string, E>;
  /** Entries ever placed here; a chunk takes no more once it has had `chunkSize`. */
  placed: number;
  bytes: Buffer | null;
}

export class ChunkedLines<E extends { readonly text: string }> {
  private readonly chunkOf = new Map<string, Chunk<E>>();
  private readonly chunks = new Map<number, Chunk<E>>();
  private open: Chunk<E> | null = null;
  private nextId = 0;

  constructor(private readonly chunkSize = 128) {}

  get(key: string): E | undefined {
    return this.chunkOf.get(key)?.entries.get(key);
  }

  has(key: string): boolean {
    return this.chunkOf.has(key);
  }

  /** Adds the entry, or replaces it in place; call again after changing an entry's text. */
  set(key: string, entry: E): void {
    let chunk = this.chunkOf.get(key);
    if (!chunk) {
      if (!this.open || this.open.placed >= this.chunkSize) {
        this.open = { id: this.nextId++, entries: new Map(), placed: 0, bytes: null };
        this.chunks.set(this.open.id, this.open);
      }
      chunk = this.open;
      chunk.placed++;
      this.chunkOf.set(key, chunk);
    }
    chunk.entries.set(key, entry);
    chunk.bytes = null;
  }

  delete(key: string): boolean {
    const chunk = this.chunkOf.get(key);
    if (!chunk) return false;
    this.chunkOf.delete(key);
    chunk.entries.delete(key);
    chunk.bytes = null;
    if (chunk.entries.size === 0 && chunk !== this.open) this.chunks.delete(chunk.id);
    return true;
  }

  *entries(): IterableIterator<[string, E]> {
    for (const chunk of this.chunks.values()) yield* chunk.entries;
  }

  *values(): IterableIterator<E> {
    for (const chunk of this.chunks.values()) yield* chunk.entries.values();
  }

  get size(): number {
    return this.chunkOf.size;
  }

  /** The lines of every entry, in order, as buffers encoded at most once per change. */
  buffers(): Buffer[] {
    const out: Buffer[] = [];
    for (const chunk of this.chunks.values()) {
      if (chunk.entries.size === 0) continue;
      if (chunk.bytes === null) {
        let text = "";
        for (const entry of chunk.entries.values()) text += entry.text;
        chunk.bytes = Buffer.from(text);
      }
      out.push(chunk.bytes);
    }
    return out;
  }
}
