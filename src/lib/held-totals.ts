import { Listeners } from "./listeners.js";

/**
 * Counters by label set whose truth is partly settled for good (`add`) and partly still growing
 * (what a reading adds through `read`), and whose readings never go down. A truth may shrink
 * after it was read (a pod's end learned late lies before a reading that counted it as still
 * running): the value read then holds where it was until the truth passes it again, so a counter
 * never looks reset. Each label set carries `width` values (core-seconds and byte-seconds, or a
 * cost and its on-demand equivalent).
 *
 * At most `capacity` label sets are kept: past it, the tenth that grew longest ago is forgotten
 * (never one held: `hold` it while something open counts in it), and how many is told to
 * `onForgotten`.
 */
export interface HeldEntry<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  /** What was read last: never below any earlier reading. */
  readonly values: readonly number[];
}

/** One label set's place in the totals, to add to without looking its labels up again. */
export interface HeldSlot<L extends string> extends HeldEntry<L> {
  readonly key: string;
}

interface Entry<L extends string> extends HeldSlot<L> {
  readonly values: number[];
  readonly settled: number[];
  readonly live: number[];
  /** When the truth of this label set last grew: a settled addition, or a live part in a reading. */
  activeAtMs: number;
  /** It had a live part in the reading under way. */
  grown: boolean;
  /** Open things counting in it: it is not forgotten while any is. */
  holders: number;
  /** When it last grew, in the order of the totals' changes. */
  changedAt: number;
}

export class HeldTotals<L extends string> {
  private readonly entries = new Map<string, Entry<L>>();
  private changes = 0;
  /** Label sets forgotten to stay within the capacity, as many at a time. */
  readonly onForgotten = new Listeners<number>();

  constructor(
    private readonly labelNames: readonly L[],
    private readonly width: number,
    private readonly capacity = Infinity,
  ) {}

  /** The label set's slot, new if need be (a slot with no truth yet reads 0). */
  slot(labels: Readonly<Record<L, string>>): HeldSlot<L> {
    const key = this.labelNames.map((name) => labels[name]).join("\u0000");
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.capacity) this.makeRoom();
      const zeros = () => new Array<number>(this.width).fill(0);
      entry = { key, labels, values: zeros(), settled: zeros(), live: zeros(), activeAtMs: -Infinity, grown: false, holders: 0, changedAt: ++this.changes };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Something open counts in the slot from now: it is kept until `release`. */
  hold(slot: HeldSlot<L>): void {
    this.entryOf(slot).holders++;
  }

  release(slot: HeldSlot<L>): void {
    const entry = this.entries.get(slot.key);
    if (entry === slot && entry.holders > 0) entry.holders--;
  }

  /** Adds to the settled truth of a label set, at `atMs`. */
  add(slot: HeldSlot<L>, amounts: readonly number[], atMs: number): void {
    const entry = this.entryOf(slot);
    for (let i = 0; i < this.width; i++) entry.settled[i]! += amounts[i] ?? 0;
    entry.activeAtMs = Math.max(entry.activeAtMs, atMs);
    entry.changedAt = ++this.changes;
  }

  /**
   * A reading at `nowMs`: `live` adds what is still growing through the function it is given,
   * and every label set's value becomes its truth (settled plus live), unless it read higher
   * before. Label sets with no live part whose truth last grew before `forgetBeforeMs` are
   * forgotten: their series leave the exposition.
   */
  read(nowMs: number, live: (add: (slot: HeldSlot<L>, amounts: readonly number[]) => void) => void, forgetBeforeMs = -Infinity): void {
    for (const entry of this.entries.values()) {
      entry.live.fill(0);
      entry.grown = false;
    }
    live((slot, amounts) => {
      const entry = this.entryOf(slot);
      for (let i = 0; i < this.width; i++) entry.live[i]! += amounts[i] ?? 0;
      entry.grown = true;
    });
    for (const [key, entry] of this.entries) {
      if (entry.grown) {
        entry.activeAtMs = nowMs;
        entry.changedAt = ++this.changes;
      } else if (entry.activeAtMs < forgetBeforeMs && entry.holders === 0) {
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

  /** Forgets the tenth of the label sets (at least one) whose truth grew longest ago, none held. */
  private makeRoom(): void {
    const idle = [...this.entries.values()].filter((entry) => entry.holders === 0).sort((a, b) => a.changedAt - b.changedAt);
    const forgotten = idle.slice(0, Math.max(1, Math.ceil(this.capacity / 10)));
    for (const entry of forgotten) this.entries.delete(entry.key);
    if (forgotten.length > 0) this.onForgotten.emit(forgotten.length);
  }

  /** The slot's entry; a slot forgotten since it was handed out comes back, from zero. */
  private entryOf(slot: HeldSlot<L>): Entry<L> {
    const entry = this.entries.get(slot.key);
    return entry === slot ? entry : (this.slot(slot.labels) as Entry<L>);
  }
}
