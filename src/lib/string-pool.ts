import { BoundedMap } from "./bounded-map.js";

/**
 * One copy of each string seen again: decoded objects keep the pool's copy, so 10,000 pods in one
 * namespace, on 500 nodes, of 1,000 projects hold one string per namespace, node and project,
 * not one per pod (each parsed object brings its own copies). Holds at most `capacity` strings,
 * the oldest forgotten first; a string forgotten is only no longer shared.
 */
export class StringPool {
  private readonly strings: BoundedMap<string, string>;

  constructor(capacity = 20_000) {
    this.strings = new BoundedMap(capacity);
  }

  /** The pool's copy of `value`, which becomes it when the pool has none. */
  intern(value: string): string {
    if (value === "") return "";
    const kept = this.strings.get(value);
    if (kept !== undefined) return kept;
    this.strings.set(value, value);
    return value;
  }

  get size(): number {
    return this.strings.size;
  }
}
