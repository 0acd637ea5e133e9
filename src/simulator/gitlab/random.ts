/**
 * A seeded pseudo-random source (mulberry32): tiny, fast, and the same sequence for the same seed
 * on every platform, so a scenario replays exactly.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from a seeded source. */
export class Dice {
  constructor(private readonly next: () => number) {}

  static seeded(seed: number): Dice {
    return new Dice(seededRandom(seed));
  }

  /** In [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("cannot pick from an empty list");
    return items[this.int(items.length)]!;
  }

  /** An exponentially distributed duration in ms with the given mean in seconds (Poisson arrivals, service times). */
  exponentialMs(meanSeconds: number): number {
    if (meanSeconds <= 0) return 0;
    return Math.round(-Math.log(1 - this.next()) * meanSeconds * 1000);
  }
}
