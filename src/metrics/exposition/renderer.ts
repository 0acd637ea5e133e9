import type { TextFamily } from "./family.js";

/**
 * The whole exposition, as the buffers a scrape writes: the process metrics' text, then every
 * family's kept buffers in order. A scrape only concatenates: per-object and per-series lines
 * were rendered when they changed; scrape-time families render their handful of lines now.
 * Families come in the order given; the one counting dropped series goes last, so that a
 * scrape-time family leaving series out in this scrape shows in the same scrape.
 */
export class Exposition {
  constructor(
    readonly families: readonly TextFamily[],
    private readonly head: () => Promise<string> = async () => "",
    /** Families left out while `when()` holds: a standby's shard series, which the active replica exports. */
    private readonly withheld?: { readonly families: ReadonlySet<TextFamily>; readonly when: () => boolean },
  ) {}

  async buffers(): Promise<Buffer[]> {
    const withheld = this.withheld?.when() ? this.withheld.families : null;
    const bodies = (withheld ? this.families.filter((family) => !withheld.has(family)) : this.families).flatMap((family) => family.buffers());
    const head = await this.head();
    return head === "" ? bodies : [Buffer.from(head), ...bodies];
  }

  /** The exposition as one string, for tests and tools. */
  async text(): Promise<string> {
    return Buffer.concat(await this.buffers()).toString();
  }
}
