import { BoundedIdSet } from "./bounded-id-set.js";

/**
 * The ids already counted, and a horizon for the ids forgotten: the last `capacity` ids are
 * remembered by id, each with the moment it happened; once an id leaves the set, every moment at
 * or before its own is behind the horizon. A thing reported again after its id was forgotten is
 * refused by its moment, since it happened no later than something the set forgot: counted at
 * most once, at the price of refusing one first reported only after `capacity` later ones.
 *
 * No moment can move the horizon past the clock: each is remembered at the earlier of itself and
 * now, so one timestamp in year 9999 cannot make every later thing look older than a forgotten one.
 */
export class CountedIds {
  private readonly ids: BoundedIdSet;
  /** The moment of each remembered id, in the order they were added, beside the id set's own ring. */
  private readonly moments: Float64Array;
  private total = 0;
  /** The newest moment among the ids the set has forgotten. */
  private forgottenUpToMs = Number.NEGATIVE_INFINITY;

  constructor(
    capacity: number,
    private readonly now: () => number,
  ) {
    this.ids = new BoundedIdSet(capacity);
    this.moments = new Float64Array(capacity);
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  /** Whether a thing that happened at `atMs` is newer than every forgotten one (the horizon read no later than now). */
  afterHorizon(atMs: number): boolean {
    return atMs > Math.min(this.forgottenUpToMs, this.now());
  }

  /** Remembers the id as counted, at `atMs` (its moment; now when unknown or after now). */
  add(id: number, atMs: number): void {
    if (this.ids.has(id)) return;
    const now = this.now();
    const moment = Number.isFinite(atMs) ? Math.min(atMs, now) : now;
    // The id set forgets in the order ids were added; this ring keeps their moments alike.
    const capacity = this.ids.capacity;
    const slot = this.total % capacity;
    if (this.total >= capacity) this.forgottenUpToMs = Math.max(this.forgottenUpToMs, this.moments[slot]!);
    this.moments[slot] = moment;
    this.total++;
    this.ids.add(id);
  }
}
