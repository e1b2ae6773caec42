import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  attachLora,
  fineTune,
  loadModel,
  parseParallelText,
  Rng,
  readFolder,
  resolveLoraSettings,
  scoreCorpus,
} from '@encouraging-loss/translate';
import { initNodeBackend, NodeFileStore } from '@encouraging-loss/translate/node';
import { modelFiles } from '../src/finetune/model-files.js';
import {
  type FinetuneSettings,
  loraOptions,
  modelOptions,
  trainingOptions,
} from '../src/finetune/settings.js';

/**
 * English→German pairs from the tiny OPUS-MT fixture's own test sentences (Debian's trans-de-en dictionary; the
 * fixture's vocabulary was built from them, so they encode into its pieces): the lines without a tab whose pieces
 * (`*.pieces`, what SentencePiece made of them) fit the model's 64 positions, in file order.
 */
export function fixturePairs(fixture: string, count: number): { source: string; target: string }[] {
  const lines = (name: string) => readFileSync(join(fixture, name), 'utf8').split('\n');
  const [en, de, enPieces, dePieces] = [
    'test-sentences.en',
    'test-sentences.de',
    'test-sentences.en.pieces',
    'test-sentences.de.pieces',
  ].map(lines);
  const pairs: { source: string; target: string }[] = [];
  for (let i = 0; i < en.length && pairs.length < count; i++) {
    const [source, target] = [en[i], de[i] ?? ''];
    if (!source.trim() || !target.trim() || `${source}${target}`.includes('\t')) continue;
    if (enPieces[i].split(' ').length > 40 || (dePieces[i] ?? '').split(' ').length > 40) continue;
    pairs.push({ source, target });
  }
  if (pairs.length < count)
    throw new Error(`${fixture} has ${pairs.length} usable pairs, fewer than ${count}.`);
  return pairs;
}

/** Pairs as TSV text, one per line. */
export function toTsv(pairs: readonly { source: string; target: string }[]): string {
  return pairs.map((p) => `${p.source}\t${p.target}\n`).join('');
}

/** TSV pairs as the worker parses them (the language names matter for JSON Lines only). */
const TSV = { format: 'tsv', sourceLanguage: 'source', targetLanguage: 'target' } as const;

/**
 * The run a deep link asks for, in Node with the library calls the page's worker makes (src/finetune/worker.ts):
 * the model folder read as the worker reads it, fine-tuned on the same pairs with the link's settings; the valid
 * NLL before and after, as `scoreCorpus` (and `el-translate score`) computes it.
 */
export async function nodeRun(
  modelDir: string,
  settings: FinetuneSettings,
  data: { trainTsv: string; validTsv: string; samples: number },
) {
  await initNodeBackend('wasm');
  const store = new NodeFileStore(modelDir);
  const folder = await readFolder(store, { only: await modelFiles(store) });
  const { model, tokenizer, family } = await loadModel(folder, modelOptions(settings));
  try {
    // LoRA as the worker attaches it (`lora=R`): the run's seed draws the adapters.
    const lora = loraOptions(settings);
    if (lora) attachLora(model, resolveLoraSettings(lora, family.modelType), new Rng(settings.seed));
    const train = parseParallelText(data.trainTsv, 'train.tsv', TSV).pairs;
    const valid = parseParallelText(data.validTsv, 'valid.tsv', TSV).pairs;
    const validNllBefore = scoreCorpus(model, tokenizer, valid).corpus.nll;
    const result = await fineTune({
      model,
      tokenizer,
      train,
      valid,
      ...trainingOptions(settings),
      validSentences: data.samples,
    });
    return { ...result, validNllBefore, validNll: scoreCorpus(model, tokenizer, valid).corpus.nll };
  } finally {
    model.dispose();
  }
}
