import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EOS_ID, loadTokenizer, PAD_ID, saveTokenizer, trainBpe, UNK_ID } from '@encouraging-loss/translate';
import { nodeFolder } from '@encouraging-loss/translate/node';
import { expect, test } from 'vitest';
import { GENERAL, generateCorpus } from './demo-data.js';

test('BPE merges the most frequent pair first, deterministically', () => {
  const model = trainBpe(['low low low lower lowest', 'new newer'], { vocabSize: 30, minFrequency: 2 });
  // ▁l, lo and ow all occur 5 times; the tie goes to the smallest pair text ("l o" < "o w" < "▁ l").
  expect(model.merges.slice(0, 3)).toEqual([
    ['l', 'o'],
    ['lo', 'w'],
    ['▁', 'low'],
  ]);
  expect(trainBpe(['low low low lower lowest', 'new newer'], { vocabSize: 30 })).toEqual(model);
});

test('round trip through transformers.js from local files', async () => {
  const pairs = generateCorpus({ seed: 1, size: 400, lexicon: GENERAL });
  const model = trainBpe(
    pairs.flatMap((p) => [p.source, p.target]),
    { vocabSize: 300, alphabet: 'ÄÖÜäöüß' },
  );
  const dir = join(mkdtempSync(join(tmpdir(), 'el-tok-')), 'tokenizer');
  saveTokenizer(model, nodeFolder(dir));
  expect(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).eos_token).toBe('</s>');
  const tokenizer = await loadTokenizer(nodeFolder(dir));
  expect(tokenizer.vocabSize).toBe(model.vocab.size);
  for (const { source, target } of pairs.slice(0, 50)) {
    for (const text of [source, target]) {
      const ids = tokenizer.encode(text);
      expect(ids[ids.length - 1]).toBe(EOS_ID);
      expect(ids).not.toContain(UNK_ID);
      expect(ids).not.toContain(PAD_ID);
      expect(tokenizer.decode(ids)).toBe(text);
    }
  }
  expect(tokenizer.decode([])).toBe('');
  expect(tokenizer.decode([EOS_ID])).toBe('');
  // Subwords, not characters: a frequent word is one token.
  expect(tokenizer.encode('Der Hund.').length).toBeLessThan('Der Hund.'.length);
  // Unseen characters map to <unk> and a composed umlaut equals its decomposed form (NFC).
  expect(tokenizer.encode('Ω')).toContain(UNK_ID);
  expect(tokenizer.encode('Mädchen')).toEqual(tokenizer.encode('Ma\u0308dchen'));
}, 30_000);
