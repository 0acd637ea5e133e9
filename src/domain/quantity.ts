/**
 * Kubernetes resource quantities (`resource.Quantity`): a signed decimal number with an optional
 * binary suffix (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI suffix (n, u, m, k, M, G, T, P, E) or
 * decimal exponent (`1e3`, `1E-3`). CPU comes out in cores, memory in bytes.
 */
const SUFFIXES: Readonly<Record<string, number>> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The quantity's value, or null when it is not a valid quantity. */
export function parseQuantity(quantity: string): number | null {
  const match = QUANTITY.exec(quantity.trim());
  if (!match) return null;
  const [, number, exponent, suffix] = match;
  const value = exponent === undefined ? Number(number) * SUFFIXES[suffix ?? ""]! : Number(`${number}${exponent}`);
  if (!Number.isFinite(value)) return null;
  // Decimal suffixes multiply by inexact powers of ten: 100m is 0.1, not 0.10000000000000001.
  return suffix !== undefined && suffix !== "" && !suffix.endsWith("i") ? Number(value.toPrecision(15)) : value;
}
