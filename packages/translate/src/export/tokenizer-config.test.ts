import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { nodeFolder } from '../node/node-folder.js';
import { loadFolderTokenizer } from '../tokenizers/load.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { exportModelFolder } from './export-folder.js';

// An exported OPUS-MT folder loads in transformers.js without the "MarianTokenizer is not yet supported by fast
// tokenizers" warning, and its base tokenizer gives the ids the MarianTokenizer class gave: language tokens
// (`>>deu<<`, added tokens) and surrounding spaces included.
const fixture = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'el-tokenizer-config-'));
const texts = ['The printer is broken.', '>>deu<< The printer is broken.', '  Two  spaces. ', '>>nld<<Hello'];
let app: SubwordTokenizer;

beforeAll(async () => {
  exportModelFolder({ model: nodeFolder(fixture), out: nodeFolder(join(root, 'opus')) });
  app = await loadFolderTokenizer(nodeFolder(fixture));
}, 120_000);

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(['@huggingface/transformers', '@xenova/transformers'] as const)('%s', (library) => {
  test('no fast-tokenizer warning; the same ids as MarianTokenizer and as the app', async () => {
    const { AutoTokenizer, MarianTokenizer, env } = (await import(
      library
    )) as typeof import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((...args) => void warnings.push(args.join(' ')));
    const exported = await AutoTokenizer.from_pretrained('opus');
    expect(warnings.filter((w) => /fast/i.test(w))).toEqual([]);
    expect(exported.constructor.name).toBe('PreTrainedTokenizer');
    // The reference: the same files read by transformers.js' MarianTokenizer class (which warns).
    const read = (file: string) => JSON.parse(readFileSync(join(root, 'opus', file), 'utf8'));
    const marian = new MarianTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
    expect(warnings.some((w) => /not yet supported by .*fast/.test(w))).toBe(true); // the warning avoided
    const ids = (t: (text: string) => { input_ids: { data: ArrayLike<bigint> } }, text: string) =>
      Array.from(t(text).input_ids.data, Number);
    for (const text of texts) {
      expect(ids(exported as never, text), text).toEqual(ids(marian as never, text));
    }
    expect(ids(exported as never, texts[0])).toEqual(app.encodeSource(texts[0]));
  });
});
