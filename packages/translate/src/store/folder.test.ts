import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { nodeFolder } from '../node/node-folder.js';
import { folderPath, memoryFolder, readFolder, readFolderJson, writeFolder } from './folder.js';
import { MemoryStore } from './memory-store.js';

const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });

describe('memoryFolder', () => {
  test('reads, writes, lists and removes; a missing file is INVALID_DATA naming the folder and file', () => {
    const folder = memoryFolder('tiny', [['config.json', '{"a": 1}']]);
    folder.write('onnx/encoder_model.onnx', new Uint8Array([1, 2, 3]));
    expect(folder.list()).toEqual(['config.json', 'onnx/encoder_model.onnx']);
    expect(folder.readText('config.json')).toBe('{"a": 1}');
    expect(folder.size?.('onnx/encoder_model.onnx')).toBe(3);
    expect(readFolderJson(folder, 'config.json')).toEqual({ a: 1 });
    folder.remove('config.json');
    expect(folder.has('config.json')).toBe(false);
    expect(() => folder.read('config.json')).toThrow(dataError(/^tiny has no config.json\.$/));
    expect(() => readFolderJson(folder, 'config.json', 'Model config')).toThrow(
      dataError(/^Model config tiny\/config.json does not exist\.$/),
    );
    expect(() => folder.write('../up.txt', 'x')).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  test('JSON errors name folder/file:line:column', () => {
    const folder = memoryFolder('https://host/model/', [['config.json', '{\n  "d_model": 16,\n}\n']]);
    expect(() => readFolderJson(folder, 'config.json')).toThrow(
      dataError(/^https:\/\/host\/model\/config.json:3:1: not valid JSON/),
    );
  });

  test('folderPath joins with one separator', () => {
    expect(folderPath('runs/x', 'config.json')).toBe('runs/x/config.json');
    expect(folderPath('https://host/m/', 'config.json')).toBe('https://host/m/config.json');
    expect(folderPath('', 'config.json')).toBe('config.json');
  });
});

describe('readFolder / writeFolder', () => {
  test('a store read into a folder, and written back as a published checkpoint', async () => {
    const store = new MemoryStore({ 'config.json': '{}', 'model.safetensors': 'w', 'sub/x.txt': 'x' }, 'mem');
    const all = await readFolder(store);
    expect(all.name).toBe('mem');
    expect(all.list()).toEqual(['config.json', 'model.safetensors', 'sub/x.txt']);
    const some = await readFolder(store, { only: ['config.json', 'tokenizer.json'], name: 'pick' });
    expect([some.name, some.list()]).toEqual(['pick', ['config.json']]);
    const out = new MemoryStore({ 'final/stale.txt': 'old' });
    await writeFolder(all, out, { folder: 'final' });
    expect(await out.list()).toEqual(['final/config.json', 'final/model.safetensors', 'final/sub/x.txt']);
    await writeFolder(some, out);
    expect(await out.exists('config.json')).toBe(true);
    const aborted = AbortSignal.abort();
    await expect(readFolder(store, { signal: aborted })).rejects.toThrow();
  });
});

describe('nodeFolder', () => {
  test('writes atomically (creating the folder), lists recursively, names files as dir/file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'el-node-folder-')), 'new');
    const folder = nodeFolder(`${dir}/`);
    expect(folder.name).toBe(dir);
    expect(folder.list()).toEqual([]);
    folder.write('onnx/a.onnx', new Uint8Array([7]));
    folder.write('config.json', '{}');
    expect(readFileSync(join(dir, 'onnx', 'a.onnx'))).toEqual(Buffer.from([7]));
    expect(folder.list()).toEqual(['config.json', 'onnx/a.onnx']);
    expect(folder.has('onnx')).toBe(false);
    expect(folder.size?.('config.json')).toBe(2);
    expect(() => folder.read('missing.json')).toThrow(dataError(/new\/missing.json does not exist/));
    expect(() => folder.read('onnx')).toThrow(dataError(/new\/onnx is a folder; expected a file/));
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(() => readFolderJson(folder, 'bad.json')).toThrow(dataError(/new\/bad.json:1:2: not valid JSON/));
    folder.remove('config.json');
    folder.remove('config.json');
    expect(folder.has('config.json')).toBe(false);
  });
});
