import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeDirectory } from '../../test/fake-directory-handle.js';
import { describeModelStore } from '../../test/model-store-contract.js';
import { DirectoryHandleStore, MemoryStore, readText } from '../index.js';
import { NodeFileStore } from '../node.js';

describeModelStore('MemoryStore', async () => new MemoryStore(), { folders: false });

let root = '';
describeModelStore(
  'NodeFileStore',
  async () => {
    root = mkdtempSync(join(tmpdir(), 'el-store-'));
    return new NodeFileStore(root);
  },
  { folders: true, rawNames: async () => readdirSync(root, { recursive: true }).map(String) },
);

let picked = new FakeDirectory('picked');
describeModelStore(
  'DirectoryHandleStore (with move)',
  async () => {
    picked = new FakeDirectory('picked', { withMove: true });
    return new DirectoryHandleStore(picked);
  },
  { folders: true, rawNames: async () => picked.names() },
);
describeModelStore(
  'DirectoryHandleStore (without move)',
  async () => {
    picked = new FakeDirectory('picked', { withMove: false });
    return new DirectoryHandleStore(picked);
  },
  { folders: true, rawNames: async () => picked.names() },
);

describe('stores', () => {
  it('MemoryStore takes initial files and hands out copies', async () => {
    const store = new MemoryStore({ 'config.json': '{"model_type":"marian"}' });
    expect(JSON.parse(await readText(store, 'config.json'))).toEqual({ model_type: 'marian' });
    const bytes = await store.read('config.json');
    bytes[0] = 0;
    expect(await readText(store, 'config.json')).toBe('{"model_type":"marian"}');
  });

  it('a full disk while writing a file is IO_ERROR naming the file; the old file stays', async () => {
    const folder = new FakeDirectory('opfs', { withMove: true });
    const store = new DirectoryHandleStore(folder, 'OPFS');
    await store.write('state.json', 'old');
    folder.settings.failWrites = 0;
    await expect(store.write('state.json', 'new')).rejects.toMatchObject({
      code: 'IO_ERROR',
      message: expect.stringMatching(/state\.json in OPFS: the quota has been exceeded/),
    });
    folder.settings.failWrites = undefined;
    expect(await readText(store, 'state.json')).toBe('old');
  });

  it('a full disk during a publish keeps the previous checkpoint and removes the temporary folder', async () => {
    for (const withMove of [true, false]) {
      const folder = new FakeDirectory('opfs', { withMove });
      const store = new DirectoryHandleStore(folder, 'OPFS');
      await store.publish(
        'run/ckpt',
        new Map([
          ['a.bin', 'previous a'],
          ['b.bin', 'previous b'],
        ]),
      );
      folder.settings.failWrites = 1; // the second file of the new checkpoint fails
      await expect(
        store.publish(
          'run/ckpt',
          new Map([
            ['a.bin', 'new a'],
            ['b.bin', 'new b'],
          ]),
        ),
      ).rejects.toMatchObject({
        code: 'IO_ERROR',
      });
      folder.settings.failWrites = undefined;
      expect(await readText(store, 'run/ckpt/a.bin')).toBe('previous a');
      expect(folder.names().filter((name) => name.includes('.tmp-'))).toEqual([]);
    }
  });
});
