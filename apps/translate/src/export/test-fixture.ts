import * as tf from '@tensorflow/tfjs-core';
import { saveModel } from '../checkpoint/model-folder.js';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { saveTokenizer, trainBpe } from '../tokenizers/bpe.js';

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
  saveTokenizer(tokenizer, dir);
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
  saveModel(model, dir);
  return model;
}
