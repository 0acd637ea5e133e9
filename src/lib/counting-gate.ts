/**
 * Holds counting back while a replica stands by. A standby sees what the active replica sees
 * (the same watches), so it must not count it; but what happens between the active replica's
 * last sign of life and the takeover is nobody's unless the standby counts it then. So each count
 * is kept, with when it happened, for a while: opening the gate from a moment replays the counts
 * from that moment on, drops the older ones, and lets every later count through at once.
 */
export class CountingGate {
  private open: boolean;
  private held: Array<{ readonly atMs: number; readonly count: () => void }> = [];
  /** Counts dropped because more were held than `maxHeld`. */
  dropped = 0;

  constructor(
    private readonly options: {
      /** Open from the start: every count goes through. */
      readonly open: boolean;
      /** How long a held count is kept. */
      readonly holdMs: number;
      readonly maxHeld: number;
      readonly now?: () => number;
    },
  ) {
    this.open = options.open;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Counts now, or holds the count while the gate is closed. */
  pass(count: () => void): void {
    if (this.open) return count();
    const now = (this.options.now ?? Date.now)();
    this.forgetBefore(now - this.options.holdMs);
    if (this.held.length >= this.options.maxHeld) {
      this.held.shift();
      this.dropped++;
    }
    this.held.push({ atMs: now, count });
  }

  /** Opens the gate: the counts held from `sinceMs` on are made, in order (all of them when null). */
  openFrom(sinceMs: number | null): void {
    if (this.open) return;
    this.open = true;
    const held = this.held;
    this.held = [];
    for (const { atMs, count } of held) if (sinceMs === null || atMs >= sinceMs) count();
  }

  /** Counts held now. */
  get heldCount(): number {
    return this.held.length;
  }

  private forgetBefore(ms: number): void {
    let drop = 0;
    while (drop < this.held.length && this.held[drop]!.atMs < ms) drop++;
    if (drop > 0) this.held.splice(0, drop);
  }
}
