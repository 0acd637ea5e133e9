import { ChunkedLines } from "./chunked-lines.js";
import { TextFamily, formatValue, type FamilyOptions, type Labels } from "./family.js";

/**
 * A gauge family whose samples belong to objects (a pod, a node): each object's lines are
 * rendered when the object changes and dropped when it goes, as kube-state-metrics' stores do.
 * A scrape writes the kept bytes; a change re-encodes only the chunk of objects it touched.
 * Under the cap, an object already exported may always change; a new object whose samples do not
 * fit is refused (counted) and tried again at its next change.
 */
export class ObjectGaugeFamily<L extends string> extends TextFamily<L> {
  private readonly objects = new ChunkedLines<{ readonly count: number }>();
  private samples = 0;

  constructor(name: string, help: string, labelNames: readonly L[], options?: FamilyOptions) {
    super(name, help, "gauge", labelNames, options);
  }

  /**
   * Replaces the object's samples; an empty list removes the object. Label values are cut to
   * `labelValueMaxBytes`; of the object's samples whose label sets are alike once cut, the first
   * is kept. (Objects are told apart by their Kubernetes names, which are never cut.)
   */
  set(key: string, samples: Iterable<readonly [Labels<L>, number]>): void {
    let text = "";
    let count = 0;
    const seen = new Set<string>();
    for (const [given, value] of samples) {
      const labels = this.bounded(given);
      const series = this.key(labels);
      if (seen.has(series)) continue;
      seen.add(series);
      text += `${this.name}${this.labelText(labels)} ${formatValue(value)}\n`;
      count++;
    }
    if (count === 0) return this.delete(key);
    const previous = this.objects.get(key);
    if (!previous && !this.admits(this.samples, count)) return;
    if (previous && this.objects.textOf(key) === text) return;
    this.samples += count - (previous?.count ?? 0);
    this.objects.set(key, { count }, text);
  }

  delete(key: string): void {
    const previous = this.objects.get(key);
    if (!previous) return;
    this.objects.delete(key);
    this.samples -= previous.count;
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  /** Objects with samples. */
  get objectCount(): number {
    return this.objects.size;
  }

  /** Samples across all objects. */
  get size(): number {
    return this.samples;
  }

  protected override bodyBuffers(): Buffer[] {
    return this.objects.buffers();
  }

  protected body(): string {
    return Buffer.concat(this.objects.buffers()).toString();
  }
}
