/**
 * The last `capacity` positive integer ids added, forgetting the oldest first, in memory fixed
 * at construction: an open-addressing hash table and a ring of insertion order, both typed
 * arrays. A `Set` of the same ids grows by doubling as it fills, so the exporter's memory would
 * climb for days before levelling off.
 */
export class BoundedIdSet {
  private readonly slots: Float64Array;
  private readonly mask: number;
  private readonly order: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    // At most half full, so probe sequences stay short.
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.slots = new Float64Array(size);
    this.mask = size - 1;
    this.order = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.slots[this.find(id)] === id;
  }

  /** Adds the id (a positive safe integer); past capacity the oldest id is forgotten. */
  add(id: number): void {
    if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`ids are positive integers, not ${id}`);
    const slot = this.find(id);
    if (this.slots[slot] === id) return;
    if (this.count === this.capacity) this.remove(this.order[this.next]!);
    this.slots[this.find(id)] = id;
    this.order[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
  }

  /** The slot holding the id, or the empty slot where it would go (0 marks empty). */
  private find(id: number): number {
    let slot = this.home(id);
    while (this.slots[slot] !== 0 && this.slots[slot] !== id) slot = (slot + 1) & this.mask;
    return slot;
  }

  private home(id: number): number {
    const low = id >>> 0;
    const high = Math.floor(id / 2 ** 32) >>> 0;
    return (Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> 0) & this.mask;
  }

  /** Linear probing's backward-shift deletion: no tombstones, so lookups never slow down. */
  private remove(id: number): void {
    let hole = this.find(id);
    if (this.slots[hole] !== id) return;
    this.slots[hole] = 0;
    this.count--;
    let slot = (hole + 1) & this.mask;
    while (this.slots[slot] !== 0) {
      const home = this.home(this.slots[slot]!);
      // Move the entry back into the hole unless its home lies cyclically in (hole, slot].
      const between = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (!between) {
        this.slots[hole] = this.slots[slot]!;
        this.slots[slot] = 0;
        hole = slot;
      }
      slot = (slot + 1) & this.mask;
    }
  }
}
