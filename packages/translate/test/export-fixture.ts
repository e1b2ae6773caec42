import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { saveModel } from '../src/checkpoint/model-folder.js';
import { makeConfig } from '../src/model/config.js';
import { MarianModel } from '../src/model/marian.js';
import { copyM2M100Tokenizer, loadM2M100Folder, saveM2M100Model } from '../src/models/m2m100/checkpoint.js';
import type { M2M100Model } from '../src/models/m2m100/modeling.js';
import type { M2M100FamilyTokenizer } from '../src/models/m2m100/tokenization.js';
import { nodeFolder } from '../src/node/node-folder.js';
import { Rng } from '../src/rng.js';
import { saveTokenizer, trainBpe } from '../src/tokenizers/bpe.js';

/** Sentences the fixture's tokenizer is trained on (and tests translate). */
export const FIXTURE_SENTENCES = [
  'The printer is broken.',
  'Please restart the computer.',
  'The network works again.',
  'Open the settings and check the printer.',
  'Where is the new keyboard?',
  'the printer the computer the network',
];

/**
 * Writes a tiny random model folder (BPE tokenizer, `tiny` config, swish unless `activation` says otherwise) whose
 * weights are far from the small initialisation: every parameter, layer norms and `final_logits_bias` included,
 * is drawn at scale 0.5 so that any mistake in the exported graph changes the logits visibly.
 */
export function writeTinyModel(
  dir: string,
  options: { seed?: number; activation?: 'swish' | 'relu' | 'gelu' | 'gelu_new' } = {},
): MarianModel {
  const tokenizer = trainBpe(FIXTURE_SENTENCES, { vocabSize: 60, minFrequency: 1 });
  saveTokenizer(tokenizer, nodeFolder(dir));
  const config = {
    ...makeConfig(tokenizer.vocab.size, 'tiny'),
    activation_function: options.activation ?? 'swish',
    max_position_embeddings: 64,
  };
  const rng = new Rng(options.seed ?? 5);
  const model = new MarianModel(config, rng);
  for (const [name, variable] of model.params) {
    const centre = name.endsWith('layer_norm.weight') ? 1 : 0;
    variable.assign(tf.add(tf.randomNormal(variable.shape, 0, 0.5, 'float32', rng.seed()), centre));
  }
  saveModel(model, nodeFolder(dir));
  return model;
}

/** The M2M100-family fixtures (`fixtures/<name>`): their languages and test sentences are in `reference.json`. */
export const M2M100_FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/**
 * Writes a copy of an M2M100-family fixture folder (`nllb-200-tiny`, `m2m100-tiny`) to `dir` with every parameter
 * redrawn (scale 0.5; the tied embedding 0.05, since a large one makes the input token's own logit win every step;
 * layer norms 0.1 around (1, 0), since the final norm's bias adds the same logits at every step), so that greedy
 * outputs vary and any wiring mistake in an exported graph changes them. Returns the model and its tokenizer for
 * the fixture's language pair.
 */
export function writePerturbedM2M100(
  name: string,
  dir: string,
  languages: { srcLang: string; tgtLang: string },
): { model: M2M100Model; tokenizer: M2M100FamilyTokenizer } {
  const loaded = loadM2M100Folder(nodeFolder(join(M2M100_FIXTURES, name)), languages);
  const rng = new Rng(17);
  for (const [param, variable] of loaded.model.params) {
    const centre = /layer_norm\.weight$/.test(param) ? 1 : 0;
    const scale = param === 'model.shared.weight' ? 0.05 : /layer_norm/.test(param) ? 0.1 : 0.5;
    variable.assign(tf.add(tf.randomNormal(variable.shape, 0, scale, 'float32', rng.seed()), centre));
  }
  saveM2M100Model(loaded.model, nodeFolder(dir));
  copyM2M100Tokenizer(nodeFolder(join(M2M100_FIXTURES, name)), nodeFolder(dir));
  return loaded;
}
