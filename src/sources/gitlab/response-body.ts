/** What was read of an answer's body: all of it, or the first `maxBytes` when it was longer. */
export interface BoundedBody {
  readonly bytes: Buffer;
  /** False when the body went on past `maxBytes`; the rest was not read. */
  readonly complete: boolean;
}

/**
 * Reads a fetch body chunk by chunk, counting what the stream yields (decompressed bytes: a small
 * gzip answer can unpack to gigabytes), and stops at `maxBytes`, cancelling the rest. Memory
 * stays within `maxBytes` plus one chunk whatever the peer sends; the caller's abort signal (the
 * request deadline) still ends a body that trickles.
 */
export async function readBoundedBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<BoundedBody> {
  if (body === null) return { bytes: Buffer.alloc(0), complete: true };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks, size), complete: true };
    if (size + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - size));
      // Cancelling ends the download (the connection is dropped) instead of draining it.
      await reader.cancel().catch(() => undefined);
      return { bytes: Buffer.concat(chunks, maxBytes), complete: false };
    }
    chunks.push(value);
    size += value.byteLength;
  }
}
