import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelStore } from '../src/index.js';

/** What the contract may assume of a store. */
export interface ContractOptions {
  /** Real folders: a file and a folder of one name collide (`a` and `a/b`), so a publish can fail part-way. */
  folders: boolean;
  /** The names in the store's own folder, temporary files included (for the "nothing left behind" checks). */
  rawNames?: () => Promise<string[]>;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Throws unless `promise` rejects with an EncouragingLossError of `code` whose message contains `parts`. */
async function rejectsWith(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  expect(error, `expected a ${code} rejection`).toBeDefined();
  expect(error?.code).toBe(code);
  for (const part of parts) expect(error?.message).toContain(part);
}

/** The behaviour every writable {@link ModelStore} has, run against a fresh store from `make` per test. */
export function describeModelStore(
  name: string,
  make: () => Promise<ModelStore>,
  options: ContractOptions,
): void {
  describe(`ModelStore contract: ${name}`, () => {
    it('writes and reads bytes and text, creating folders; reads the whole file back', async () => {
      const store = await make();
      const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256);
      await store.write('model.safetensors', bytes);
      await store.write('onnx/decoder/model.onnx', 'ö text');
      expect(await store.read('model.safetensors')).toEqual(bytes);
      expect(text(await store.read('onnx/decoder/model.onnx'))).toBe('ö text');
      await store.write('model.safetensors', 'replaced');
      expect(text(await store.read('model.safetensors'))).toBe('replaced');
    });

    it('a missing file is INVALID_DATA naming the file and the store', async () => {
      const store = await make();
      await rejectsWith(store.read('config.json'), 'INVALID_DATA', 'config.json', store.location);
      await store.write('onnx/a.onnx', 'x');
      await rejectsWith(store.read('onnx/b.onnx'), 'INVALID_DATA', 'onnx/b.onnx');
      await rejectsWith(store.read('none/b.onnx'), 'INVALID_DATA', 'none/b.onnx');
    });

    it('exists is true for files only; list is recursive, sorted, and scoped by a folder prefix', async () => {
      const store = await make();
      for (const path of ['b.json', 'a/z.bin', 'a/c/d.txt', 'ab.txt']) await store.write(path, path);
      expect(await store.exists('a/z.bin')).toBe(true);
      expect(await store.exists('a')).toBe(false);
      expect(await store.exists('missing')).toBe(false);
      expect(await store.list()).toEqual(['a/c/d.txt', 'a/z.bin', 'ab.txt', 'b.json']);
      expect(await store.list('a')).toEqual(['a/c/d.txt', 'a/z.bin']);
      expect(await store.list('nothing')).toEqual([]);
    });

    it('remove takes a file, or a folder with everything below it; nothing there is no error', async () => {
      const store = await make();
      for (const path of ['keep.txt', 'run/a.txt', 'run/deep/b.txt', 'runs.txt'])
        await store.write(path, 'x');
      await store.remove('run');
      await store.remove('keep.txt');
      await store.remove('never/there');
      expect(await store.list()).toEqual(['runs.txt']);
    });

    it('publish replaces a folder with exactly the new files', async () => {
      const store = await make();
      await store.publish(
        'ckpt',
        new Map([
          ['old.bin', 'old'],
          ['config.json', '{"v":1}'],
        ]),
      );
      await store.write('other.txt', 'untouched');
      await store.publish(
        'ckpt',
        new Map<string, string | Uint8Array>([
          ['config.json', '{"v":2}'],
          ['weights/model.safetensors', new Uint8Array([1, 2, 3])],
        ]),
      );
      expect(await store.list()).toEqual(['ckpt/config.json', 'ckpt/weights/model.safetensors', 'other.txt']);
      expect(text(await store.read('ckpt/config.json'))).toBe('{"v":2}');
      if (options.rawNames) expect((await options.rawNames()).filter((n) => n.includes('.tmp-'))).toEqual([]);
    });

    it('a publish that fails leaves the previous checkpoint as it was', async () => {
      const store = await make();
      await store.publish('ckpt', new Map([['config.json', 'previous']]));
      // A bad path is refused before anything changes.
      await rejectsWith(
        store.publish(
          'ckpt',
          new Map([
            ['config.json', 'new'],
            ['../escape', 'x'],
          ]),
        ),
        'INVALID_OPTION',
        '..',
      );
      if (options.folders) {
        // A file and a folder of one name: the write fails part-way through the new checkpoint.
        await rejectsWith(
          store.publish(
            'ckpt',
            new Map([
              ['config.json', 'new'],
              ['a', 'file'],
              ['a/b', 'x'],
            ]),
          ),
          'IO_ERROR',
          'ckpt',
        );
      }
      expect(await store.list()).toEqual(['ckpt/config.json']);
      expect(text(await store.read('ckpt/config.json'))).toBe('previous');
      if (options.rawNames) expect((await options.rawNames()).filter((n) => n.includes('.tmp-'))).toEqual([]);
    });

    it.each([['../x'], ['/etc/passwd'], ['a//b'], ['a/./b'], ['a\\b'], ['']])(
      'refuses the path %j',
      async (path) => {
        const store = await make();
        await rejectsWith(store.write(path, 'x'), 'INVALID_OPTION', JSON.stringify(path));
        await rejectsWith(store.read(path), 'INVALID_OPTION');
      },
    );

    it('an aborted signal stops a write and a publish before they change anything', async () => {
      const store = await make();
      const controller = new AbortController();
      controller.abort();
      await expect(store.write('a.txt', 'x', { signal: controller.signal })).rejects.toThrow();
      await expect(
        store.publish('ckpt', new Map([['a.txt', 'x']]), { signal: controller.signal }),
      ).rejects.toThrow();
      expect(await store.list()).toEqual([]);
    });

    it('holds whatever set of files is written (property)', async () => {
      const segment = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
      const paths = fc.uniqueArray(
        fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/')),
        {
          minLength: 1,
          maxLength: 8,
        },
      );
      await fc.assert(
        fc.asyncProperty(paths, async (list) => {
          // A path that is also another one's folder cannot exist in a real folder: keep the leaves only.
          const leaves = list.filter((p) => !list.some((q) => q.startsWith(`${p}/`)));
          const store = await make();
          for (const path of leaves) await store.write(path, `content of ${path}`);
          expect(await store.list()).toEqual([...leaves].sort());
          for (const path of leaves) expect(text(await store.read(path))).toBe(`content of ${path}`);
        }),
        { numRuns: 25 },
      );
    });
  });
}
