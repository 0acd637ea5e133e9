/**
 * The union of intervals on a line (times in ms), added in any order, and its length. Intervals
 * that ended more than `keepMs` before the latest end added are folded into a plain length, so
 * memory stays bounded however long the union grows; a late interval reaching back into what was
 * folded counts only from where the folded part ends.
 */
export class IntervalUnion {
  /** Disjoint, sorted by start, none touching another. */
  private intervals: Array<[number, number]> = [];
  private foldedLength = 0;
  /** Nothing before this is kept apart: the end of the last interval folded. */
  private foldedThrough = -Infinity;
  private latestEnd = -Infinity;

  constructor(private readonly keepMs: number) {}

  add(start: number, end: number): void {
    const from = Math.max(start, this.foldedThrough);
    if (!(end > from)) return;
    const merged: Array<[number, number]> = [];
    let current: [number, number] = [from, end];
    let placed = false;
    for (const interval of this.intervals) {
      if (interval[1] < current[0]) merged.push(interval);
      else if (interval[0] > current[1]) {
        if (!placed) merged.push(current);
        placed = true;
        merged.push(interval);
      } else current = [Math.min(interval[0], current[0]), Math.max(interval[1], current[1])];
    }
    if (!placed) merged.push(current);
    this.intervals = merged;
    this.latestEnd = Math.max(this.latestEnd, end);
    this.fold();
  }

  /** The union's length, with `extra` (an interval not kept) counted in when given. */
  length(extra?: readonly [number, number]): number {
    let total = this.foldedLength;
    for (const [start, end] of this.intervals) total += end - start;
    if (!extra) return total;
    const from = Math.max(extra[0], this.foldedThrough);
    const to = extra[1];
    if (!(to > from)) return total;
    let covered = 0;
    for (const [start, end] of this.intervals) covered += Math.max(0, Math.min(end, to) - Math.max(start, from));
    return total + (to - from) - covered;
  }

  /** Intervals kept apart (the rest is folded). */
  get size(): number {
    return this.intervals.length;
  }

  private fold(): void {
    const horizon = this.latestEnd - this.keepMs;
    let folded = 0;
    while (folded < this.intervals.length && this.intervals[folded]![1] < horizon) {
      const [start, end] = this.intervals[folded]!;
      this.foldedLength += end - start;
      this.foldedThrough = end;
      folded++;
    }
    if (folded > 0) this.intervals = this.intervals.slice(folded);
  }
}
