/** A stable 40-hex-digit commit SHA derived from a number, so the same pipeline always has the same commit. */
export function fakeSha(seed: number): string {
  let hex = "";
  let x = (Math.imul(seed, 2654435761) >>> 0) || 1;
  while (hex.length < 40) {
    // xorshift32: cheap, and distinct seeds give distinct strings.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    hex += x.toString(16).padStart(8, "0");
  }
  return hex.slice(0, 40);
}
