/**
 * Counters by label set whose truth is partly settled for good (`add`) and partly still growing
 * (what a reading adds through `read`), and whose readings never go down. A truth may shrink
 * after it was read (a pod's end learned late lies before a reading that counted it as still
 * running): the value read then holds where it was until the truth passes it again, so a counter
 * never looks reset. Each label set carries `width` values (core-seconds and byte-seconds, or a
 * cost and its on-demand equivalent).
 */
export interface HeldEntry<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  /** What was read last: never below any earlier reading. */
  readonly values: readonly number[];
}

interface Entry<L extends string> extends HeldEntry<L> {
  readonly values: number[];
  readonly settled: number[];
  readonly live: number[];
  /** When the truth of this label set last grew: a settled addition, or a live part in a reading. */
  activeAtMs: number;
}

export class HeldTotals<L extends string> {
  private readonly entries = new Map<string, Entry<L>>();

  constructor(
    private readonly labelNames: readonly L[],
    private readonly width: number,
  ) {}

  /** Adds to the settled truth of the label set, at `atMs`. */
  add(labels: Readonly<Record<L, string>>, amounts: readonly number[], atMs: number): void {
    const entry = this.entry(labels);
    for (let i = 0; i < this.width; i++) entry.settled[i]! += amounts[i] ?? 0;
    entry.activeAtMs = Math.max(entry.activeAtMs, atMs);
  }

  /**
   * A reading at `nowMs`: `live` adds what is still growing through the function it is given,
   * and every label set's value becomes its truth (settled plus live), unless it read higher
   * before. Label sets with no live part whose truth last grew before `forgetBeforeMs` are
   * forgotten: their series leave the exposition.
   */
  read(nowMs: number, live: (add: (labels: Readonly<Record<L, string>>, amounts: readonly number[]) => void) => void, forgetBeforeMs = -Infinity): void {
    for (const entry of this.entries.values()) entry.live.fill(0);
    const grown = new Set<Entry<L>>();
    live((labels, amounts) => {
      const entry = this.entry(labels);
      for (let i = 0; i < this.width; i++) entry.live[i]! += amounts[i] ?? 0;
      grown.add(entry);
    });
    for (const [key, entry] of this.entries) {
      if (grown.has(entry)) entry.activeAtMs = nowMs;
      else if (entry.activeAtMs < forgetBeforeMs) {
        this.entries.delete(key);
        continue;
      }
      for (let i = 0; i < this.width; i++) entry.values[i] = Math.max(entry.values[i]!, entry.settled[i]! + entry.live[i]!);
    }
  }

  /** Every label set as last read. */
  values(): Iterable<HeldEntry<L>> {
    return this.entries.values();
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(labels: Readonly<Record<L, string>>): Entry<L> {
    const key = this.labelNames.map((name) => labels[name]).join("\u0000");
    let entry = this.entries.get(key);
    if (!entry) {
      const zeros = () => new Array<number>(this.width).fill(0);
      entry = { labels, values: zeros(), settled: zeros(), live: zeros(), activeAtMs: -Infinity };
      this.entries.set(key, entry);
    }
    return entry;
  }
}
