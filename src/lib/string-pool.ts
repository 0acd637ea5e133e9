import { BoundedMap } from "./bounded-map.js";

/**
 * One copy of each string, and of each small immutable value, seen again: decoded objects keep
 * the pool's copy, so 10,000 pods in one namespace, on 500 nodes, of 1,000 projects, with alike
 * requests hold one string per namespace, node and project and one object per set of requests,
 * not one per pod (each parsed object brings its own). Holds at most `capacity` strings and as
 * many values, the oldest forgotten first; a string or value forgotten is only no longer shared.
 */
export class StringPool {
  private readonly strings: BoundedMap<string, string>;
  private readonly values: BoundedMap<string, object>;

  constructor(capacity = 20_000) {
    this.strings = new BoundedMap(capacity);
    this.values = new BoundedMap(capacity);
  }

  /** The pool's copy of `value`, which becomes it when the pool has none. */
  intern(value: string): string {
    if (value === "") return "";
    const kept = this.strings.get(value);
    if (kept !== undefined) return kept;
    this.strings.set(value, value);
    return value;
  }

  /**
   * The value kept under `key`, made (and frozen) when the pool has none. `key` must tell the
   * value completely, and name its kind, as values of every kind share the pool.
   */
  shared<T extends object>(key: string, make: () => T): Readonly<T> {
    const kept = this.values.get(key);
    if (kept !== undefined) return kept as T;
    const value = Object.freeze(make());
    this.values.set(key, value);
    return value;
  }

  /** Strings kept. */
  get size(): number {
    return this.strings.size;
  }

  /** Values kept. */
  get valueCount(): number {
    return this.values.size;
  }
}
