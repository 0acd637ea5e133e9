/**
 * Bytes shared by holders that come and go, such as request bodies being read: a reservation
 * is granted whole or not at all, so the total held never exceeds the capacity.
 */
export class ByteBudget {
  private held = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 0)) throw new Error(`a byte budget needs a capacity of at least 0, got ${capacity}`);
  }

  /** Takes `bytes` if they fit in what is left, and says whether they did. */
  tryReserve(bytes: number): boolean {
    if (!(bytes >= 0) || this.held + bytes > this.capacity) return false;
    this.held += bytes;
    return true;
  }

  /** Gives back bytes reserved before. */
  release(bytes: number): void {
    this.held = Math.max(0, this.held - Math.max(0, bytes));
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.held;
  }
}
