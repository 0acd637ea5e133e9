/**
 * A clock tests move by hand. The world and the scenario share it, so simulated minutes pass in
 * microseconds and every timestamp is exact. `now` is a bound arrow so it can be passed around
 * as a plain function (`new GitLabWorld({ now: clock.now })`).
 */
export class ManualClock {
  private current: number;

  constructor(startMs: number = Date.UTC(2026, 10, 24, 9, 0, 0)) {
    this.current = startMs;
  }

  readonly now = (): number => this.current;

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`a clock only moves forward (asked to move by ${ms} ms)`);
    this.current += ms;
  }

  /** Moves to an absolute time, never backwards. */
  advanceTo(ms: number): void {
    if (ms > this.current) this.current = ms;
  }
}
