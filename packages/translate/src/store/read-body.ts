/**
 * The whole body of a `Response` or a `Blob` (a picked `File`) as bytes, read from its stream. Why not
 * `arrayBuffer()`: Chromium refuses it for bodies over 2 GiB ("Failed to fetch"), and NLLB-200-distilled-600M's
 * float32 weights are 2.46 GB. With a declared size (`Content-Length`, `Blob.size`) the bytes go straight into one
 * buffer of that size; a body longer than declared (a compressed transfer whose length is the compressed one) or
 * without a size is gathered in chunks instead. `onChunk` hears the bytes received so far after each chunk (a
 * download's progress).
 */
export async function readBody(
  source: Response | Blob,
  onChunk?: (received: number) => void,
): Promise<Uint8Array> {
  const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
  const stream = isBlob ? (source as Blob).stream() : (source as Response).body;
  if (!stream) return new Uint8Array(0);
  const declared = isBlob
    ? (source as Blob).size
    : Number.parseInt((source as Response).headers.get('content-length') ?? '', 10);
  let buffer = Number.isSafeInteger(declared) && declared >= 0 ? new Uint8Array(declared) : undefined;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (buffer && received + value.length <= buffer.length) buffer.set(value, received);
    else {
      // More than declared: keep what the buffer holds as the first chunk and gather the rest.
      if (buffer) chunks.push(buffer.subarray(0, received));
      buffer = undefined;
      chunks.push(value);
    }
    received += value.length;
    onChunk?.(received);
  }
  if (buffer) return received === buffer.length ? buffer : buffer.subarray(0, received);
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
