/** The default of `LABEL_VALUE_MAX_BYTES`. */
export const DEFAULT_LABEL_VALUE_MAX_BYTES = 512;

/**
 * The least `LABEL_VALUE_MAX_BYTES` may be: Kubernetes names (pods, nodes, namespaces) have at
 * most 253 bytes, so the labels that tell one object's series from another's are never cut.
 */
export const MIN_LABEL_VALUE_MAX_BYTES = 256;

/** Ends a value that was cut short, so a reader sees it is not the whole value. */
export const CUT_MARKER = "…";
const MARKER_BYTES = Buffer.byteLength(CUT_MARKER);

/**
 * The value in at most `maxBytes` bytes of UTF-8: unchanged when it fits, else its longest
 * prefix of whole characters that fits together with a trailing `…`. Series are keyed by the cut
 * value, so two values alike up to the cut are one series.
 */
export function cutLabelValue(value: string, maxBytes: number): string {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair, 2 units, takes 4).
  if (value.length * 3 <= maxBytes) return value;
  if (Buffer.byteLength(value) <= maxBytes) return value;
  const budget = Math.max(0, maxBytes - MARKER_BYTES);
  let bytes = 0;
  let end = 0;
  while (end < value.length) {
    const code = value.codePointAt(end)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > budget) break;
    bytes += size;
    end += code >= 0x10000 ? 2 : 1;
  }
  return value.slice(0, end) + CUT_MARKER;
}
