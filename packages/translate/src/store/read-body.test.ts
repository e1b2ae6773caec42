import { expect, test } from 'vitest';
import { readBody } from './read-body.js';

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (7 * i) % 251);

/** A body streamed in chunks of `size` bytes, as a network response arrives. */
function chunked(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + size));
      offset += size;
    },
  });
}

const response = (length?: number) =>
  new Response(chunked(bytes, 97), {
    headers: length === undefined ? {} : { 'content-length': String(length) },
  });

test('reads a streamed body whole, with its declared length, without one, or longer than declared', async () => {
  expect(await readBody(response(bytes.length))).toEqual(bytes);
  expect(await readBody(response())).toEqual(bytes);
  // A compressed transfer declares the compressed length: the decompressed body is longer.
  expect(await readBody(response(300))).toEqual(bytes);
});

test('a body shorter than declared gives the bytes that came', async () => {
  expect(await readBody(response(5000))).toEqual(bytes);
});

test('reads a Blob (a picked File) and an empty body', async () => {
  expect(await readBody(new Blob([bytes.slice(0, 400), bytes.slice(400)]))).toEqual(bytes);
  expect(await readBody(new Response(null))).toEqual(new Uint8Array(0));
});
