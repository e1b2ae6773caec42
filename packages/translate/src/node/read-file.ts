import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The most bytes asked of one read (a seam, so a test can cut a small file into pieces). */
export const fileReader = { maxChunk: 2 ** 30 };

/**
 * A file's bytes, whatever its size up to Buffer's 4 GiB: `fs.readFileSync` refuses files over 2 GiB ("File size
 * … is greater than 2 GiB"), and NLLB-200-distilled-600M's `model.safetensors` / `pytorch_model.bin` are 2.46 GB.
 * Read into one buffer of the file's size, at most {@link fileReader}`.maxChunk` bytes a call. Errors are the `fs`
 * errors (`ENOENT`, `EISDIR`, …), for the caller to word.
 */
export function readWholeFile(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const read = readSync(fd, bytes, offset, Math.min(size - offset, fileReader.maxChunk), offset);
      if (read === 0) break; // the file shrank while it was read: what is there
      offset += read;
    }
    return offset === size ? bytes : bytes.subarray(0, offset);
  } finally {
    closeSync(fd);
  }
}
