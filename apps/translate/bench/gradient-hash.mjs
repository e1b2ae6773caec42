#!/usr/bin/env node
// A fingerprint of a build's gradients: `node bench/gradient-hash.mjs <packages/translate/dist> [tiny|small] [V]`
// prints a hash of the bits of every parameter's gradient (and of the shared table's alone) for one and for two
// micro-batches, on one tape and checkpointed. Two builds that print the same lines compute the same gradients bit
// for bit; run it on a worktree's build and on this one to check that a change kept them (docs/performance.md).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist = '../../packages/translate/dist', preset = 'small', vocabArg = '1000'] = process.argv.slice(2);
const lib = await import(pathToFileURL(resolve(dist, 'node.js')).href);
await lib.initNodeBackend('wasm', { threads: 1 });
const vocab = Number(vocabArg);
const config = { ...lib.makeConfig(vocab, preset), dropout: 0.1 };
const model = new lib.MarianModel(config, new lib.Rng(1));
const rng = new lib.Rng(2);
const random = () => Array.from({ length: 12 }, () => 3 + rng.int(vocab - 4));
const examples = Array.from({ length: 6 }, () => ({ source: random(), target: random() }));
const ids = { padId: config.pad_token_id, startId: config.decoder_start_token_id };
const hash = (h, words) => {
  for (const x of words) h = (Math.imul(h, 31) + x) | 0;
  return h;
};
for (const checkpoint of [false, true]) {
  for (const batches of [
    [[0, 1, 2, 3, 4, 5]],
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  ]) {
    // As the trainer accumulates micro-batches (accumulateGradients): the first copied, the next added.
    const sums = new Map();
    const add = (name, values) => {
      const s = sums.get(name);
      if (!s) sums.set(name, Float32Array.from(values));
      else for (let i = 0; i < values.length; i++) s[i] += values[i];
    };
    for (const batch of batches) {
      const t = lib.batchTensors(examples, batch, ids);
      const options = lib.lossOptions({ kind: 'cel', labelSmoothing: 0.1 });
      lib.modelGradients(model, t, options, add, { rng: new lib.Rng(5), checkpoint });
    }
    let all = 0;
    for (const [, g] of [...sums].sort(([a], [b]) => (a < b ? -1 : 1)))
      all = hash(all, new Uint32Array(g.buffer));
    const shared = hash(0, new Uint32Array(sums.get('model.shared.weight').buffer));
    console.log(
      `checkpointed ${checkpoint}, ${batches.length} micro-batch(es): all ${all}, model.shared.weight ${shared}`,
    );
  }
}
