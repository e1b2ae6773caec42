import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encouragingLossComponents } from '@encouraging-loss/tfjs';
import {
  accumulateGradients,
  batchTensors,
  type Example,
  HostAdam,
  IGNORE_INDEX,
  lossOptions,
  projectedLossWithGrad,
  type SubwordTokenizer,
  trainingStep,
} from '@encouraging-loss/translate';
import {
  initNodeBackend,
  loadModel,
  modelGradients,
  nodeFolder,
  readParallelData,
  readWeights,
  type Seq2SeqModel,
  scoreCorpus,
} from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';

/*
 * On the OPUS-MT-shaped fixture (fixtures/opus-mt-tiny, written by Debian's python3-torch and spm_train: `</s>` = 0,
 * `<pad>` = 388 = decoder start, a non-zero final_logits_bias).
 */
const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'el-finetune-'));
const data = join(dir, 'pairs.tsv');

let model: Seq2SeqModel;
let tokenizer: SubwordTokenizer;
let examples: Example[];

beforeAll(async () => {
  await initNodeBackend('wasm');
  const en = readFileSync(join(FIXTURE, 'test-sentences.en'), 'utf8').trim().split('\n');
  const de = readFileSync(join(FIXTURE, 'test-sentences.de'), 'utf8').trim().split('\n');
  writeFileSync(
    data,
    en
      .slice(0, 40)
      .map((s, i) => `${s}\t${de[i]}\n`)
      .join(''),
  );
  ({ model, tokenizer } = await loadModel(nodeFolder(FIXTURE)));
  examples = en.slice(0, 6).map((s, i) => ({
    source: tokenizer.encodeSource(s),
    target: tokenizer.encodeTarget(de[i]),
  }));
});

const run = (args: string[]) =>
  execFileSync('node', [CLI, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

test('the fixture really has pad ≠ 0 and sentences of different lengths', () => {
  expect(model.config.pad_token_id).toBe(388);
  expect(model.config.eos_token_id).toBe(0);
  expect(new Set(examples.map((e) => e.source.length)).size).toBeGreaterThan(2);
});

test('pad from the config: a padded batch has the gradient of its sentences alone; padding with id 0 would not', () => {
  const options = lossOptions({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
  const batch = [0, 1, 2, 3, 4, 5];
  const whole = accumulateGradients(model, examples, [batch], options);
  // Each sentence alone needs no padding and no mask: the reference.
  const alone = accumulateGradients(
    model,
    examples,
    batch.map((i) => [i]),
    options,
  );
  let largest = 0;
  for (const [name, expected] of alone.grads) {
    const actual = whole.grads.get(name)!;
    expected.forEach((e, i) => {
      largest = Math.max(largest, Math.abs(e));
      expect(Math.abs(actual[i] - e), `${name}[${i}]`).toBeLessThan(1e-6 + 1e-4 * Math.abs(e));
    });
  }
  expect(largest).toBeGreaterThan(1e-3);
  // The old constant PAD_ID = 0 is `</s>` here: the encoder would attend to it and the gradient would move.
  const t = batchTensors(examples, batch, { padId: 0, startId: 388 });
  const wrong = new Map<string, Float32Array>();
  modelGradients(model, t, options, (name, values) => {
    if (!wrong.has(name)) wrong.set(name, Float32Array.from(values));
  });
  const name = 'model.encoder.layers.0.self_attn.q_proj.weight';
  const scale = 1 / whole.tokens;
  const gap = Math.max(...wrong.get(name)!.map((g, i) => Math.abs(g * scale - whole.grads.get(name)![i])));
  expect(gap).toBeGreaterThan(1e-5);
  tf.dispose([t.source, t.decoderInput]);
});

test('no gradient into the padding_idx row through the lookups; the tied projection still gives it one', () => {
  const t = batchTensors(examples, [0, 1, 2], { padId: 388, startId: 388 });
  const options = lossOptions({ kind: 'ce' });
  const collect = (checkpoint: boolean) => {
    const shared: Float32Array[] = [];
    modelGradients(
      model,
      t,
      options,
      (name, values) => {
        if (name === 'model.shared.weight') shared.push(Float32Array.from(values));
      },
      { checkpoint },
    );
    expect(shared).toHaveLength(1); // the lookups' rows are added to the projection's gradient before it leaves
    return shared[0];
  };
  // The output projection's share alone, from the same final states (no dropout: no rng).
  const projection = tf.tidy(() => {
    const hidden = model.decodeHidden(t.decoderInput, model.encode(t.source));
    const flat = tf.reshape(hidden, [-1, model.config.d_model]) as tf.Tensor2D;
    const { dWeight, dHidden } = projectedLossWithGrad(
      flat,
      model.outputWeight,
      model.outputBias,
      t.labels,
      options,
    );
    dHidden.dispose();
    return dWeight!.dataSync() as Float32Array;
  });
  const d = model.config.d_model;
  const row = (g: Float32Array, r: number) => Array.from(g.subarray(r * d, (r + 1) * d));
  // Decoder inputs start with 388 in every row: the lookups add nothing to that row, the projection does.
  expect(row(projection, 388).some((v) => v !== 0)).toBe(true);
  const firstSourceToken = examples[0].source[0];
  for (const checkpoint of [true, false]) {
    const shared = collect(checkpoint);
    row(shared, 388).forEach((v, j) => {
      expect(v).toBeCloseTo(row(projection, 388)[j], 6);
    });
    // A token the encoder looks up gains the lookup's share on top of the projection's.
    const gained = row(shared, firstSourceToken).map((v, j) => v - row(projection, firstSourceToken)[j]);
    expect(Math.max(...gained.map(Math.abs))).toBeGreaterThan(1e-4);
  }
  tf.dispose([t.source, t.decoderInput]);
});

test('final_logits_bias is a fixed buffer: unchanged by a step that changes every parameter', () => {
  const before = model.outputBias.dataSync().slice();
  const weightsBefore = model.outputWeight.dataSync().slice();
  trainingStep(model, new HostAdam(model.params), examples, [[0, 1, 2]], lossOptions({ kind: 'el' }), {
    lr: 1e-3,
    t: 1,
  });
  expect(Array.from(model.outputBias.dataSync())).toEqual(Array.from(before));
  expect(model.outputWeight.dataSync().some((v, i) => v !== weightsBefore[i])).toBe(true);
  expect(model.params.has('final_logits_bias')).toBe(false);
});

test('--freeze-embeddings: the shared embedding / output projection stays as loaded, the layers train', () => {
  const shared = model.outputWeight.dataSync().slice();
  const layer = model.params.get('model.decoder.layers.0.fc1.weight')!;
  const before = layer.dataSync().slice();
  const result = trainingStep(
    model,
    new HostAdam(model.params),
    examples,
    [[3, 4, 5]],
    lossOptions({ kind: 'ce' }),
    {
      lr: 1e-3,
      t: 1,
      freezeEmbeddings: true,
    },
  );
  expect(result.tokens).toBeGreaterThan(0);
  expect(Array.from(model.outputWeight.dataSync())).toEqual(Array.from(shared));
  expect(layer.dataSync().some((v, i) => v !== before[i])).toBe(true);
});

test('score equals the crossEntropy component at ε = 0 of the full logits, per sentence and for the corpus', () => {
  const pairs = readParallelData(data, { sourceLanguage: 'en', targetLanguage: 'de' }).pairs.slice(0, 12);
  const { sentences, corpus } = scoreCorpus(model, tokenizer, pairs, { maxTokens: 60 });
  let total = 0;
  let tokens = 0;
  pairs.forEach((p, i) => {
    const source = tokenizer.encodeSource(p.source);
    const target = tokenizer.encodeTarget(p.target);
    const nll = tf.tidy(() => {
      const decoderInput = tf.tensor2d([[388, ...target.slice(0, -1)]], undefined, 'int32');
      const logits = model.decode(decoderInput, model.encode(tf.tensor2d([source], undefined, 'int32')));
      const labels = tf.tensor2d([target], undefined, 'int32');
      return encouragingLossComponents(logits, labels, {
        logEnd: 1,
        bonusWeight: 0,
        labelSmoothing: 0,
        ignoreIndex: IGNORE_INDEX,
        reduction: 'sum',
      }).crossEntropy.dataSync()[0];
    });
    expect(sentences[i].tokens).toBe(target.length);
    expect(sentences[i].logProb).toBeCloseTo(-nll, 3);
    expect(Math.log(sentences[i].perplexity)).toBeCloseTo(nll / target.length, 4);
    total += nll;
    tokens += target.length;
  });
  expect(corpus.tokens).toBe(tokens);
  expect(corpus.nll).toBeCloseTo(total / tokens, 5);
});

describe('fine-tuning the fixture from the command line', () => {
  test('train --init fixture a few steps → saved folder reloads and scores the same as the CLI says', async () => {
    const out = join(dir, 'tuned');
    const stderr = join(dir, 'stderr.txt');
    const result = JSON.parse(
      execFileSync(
        'sh',
        [
          '-c',
          `node "$0" train --init "$1" --train "$2" --out "$3" --max-steps 4 --max-tokens 120 --loss cel --label-smoothing 0.1 --log-every 1 2>"$4"`,
          CLI,
          FIXTURE,
          data,
          out,
          stderr,
        ],
        { encoding: 'utf8' },
      ),
    );
    expect(result).toMatchObject({ steps: 4, interrupted: false });
    const log = readFileSync(stderr, 'utf8');
    // Fine-tuning defaults are printed; piped stderr gets plain progress lines, no carriage returns.
    expect(log).toMatch(/fine-tuning .*lr 0\.00005 \(--lr\), warmup 1 steps \(--warmup\), linear schedule/);
    expect(log).toMatch(/train 4\/4 100% \| loss -?\d/);
    expect(log).not.toContain('\r');
    for (const file of ['source.spm', 'target.spm', 'vocab.json', 'config.json', 'model.safetensors']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    // The fixed buffer comes back as loaded; the weights moved.
    const tuned = readWeights(nodeFolder(out));
    const original = readWeights(nodeFolder(FIXTURE));
    const values = (tensors: typeof tuned) =>
      Array.from(tensors.get('final_logits_bias')!.data as Float32Array);
    expect(values(tuned)).toEqual(values(original));
    const cli = JSON.parse(run(['score', '--model', out, '--data', data, '--json', '--quiet']));
    const reloaded = await loadModel(nodeFolder(out));
    const pairs = readParallelData(data, { sourceLanguage: 'en', targetLanguage: 'de' }).pairs;
    const inProcess = scoreCorpus(reloaded.model, reloaded.tokenizer, pairs);
    expect(cli.sentences).toHaveLength(40);
    expect(cli.corpus.nll).toBeCloseTo(inProcess.corpus.nll, 6);
    cli.sentences.forEach((s: { logProb: number }, i: number) => {
      expect(s.logProb).toBeCloseTo(inProcess.sentences[i].logProb, 4);
    });
    const before = JSON.parse(run(['score', '--model', FIXTURE, '--data', data, '--json', '--quiet']));
    expect(before.corpus.nll).not.toBeCloseTo(cli.corpus.nll, 4);
    reloaded.model.dispose();
  }, 240_000);
  test('--target-token puts the language token before every source, and an unknown one is INVALID_OPTION', () => {
    // Compared with the token written in front of each source (MarianTokenizer keeps >>xxx<< whole), both through
    // the CLI on the untouched fixture.
    const pairs = readParallelData(data, { sourceLanguage: 'en', targetLanguage: 'de' }).pairs.slice(0, 8);
    const plainData = join(dir, 'plain.tsv');
    const prefixedData = join(dir, 'prefixed.tsv');
    writeFileSync(plainData, pairs.map((p) => `${p.source}\t${p.target}\n`).join(''));
    writeFileSync(prefixedData, pairs.map((p) => `>>nld<< ${p.source}\t${p.target}\n`).join(''));
    const score = (file: string, extra: string[] = []) =>
      JSON.parse(run(['score', '--model', FIXTURE, '--data', file, '--json', '--quiet', ...extra])).sentences;
    const withToken = score(plainData, ['--target-token', '>>nld<<']);
    expect(withToken).toEqual(score(prefixedData));
    expect(withToken).not.toEqual(score(plainData));

    const sources = join(dir, 'sources.en');
    const prefixedSources = join(dir, 'prefixed.en');
    writeFileSync(sources, pairs.map((p) => `${p.source}\n`).join(''));
    writeFileSync(prefixedSources, pairs.map((p) => `>>deu<< ${p.source}\n`).join(''));
    const translate = (file: string, extra: string[] = []) =>
      run(['translate', '--model', FIXTURE, '--input', file, '--beam', '1', '--quiet', ...extra]);
    expect(translate(sources, ['--target-token', '>>deu<<'])).toBe(translate(prefixedSources));

    let error = '';
    try {
      run(['translate', '--model', FIXTURE, '--input', sources, '--quiet', '--target-token', '>>fra<<']);
    } catch (e) {
      error = String((e as { stderr?: string }).stderr);
    }
    expect(error).toMatch(/\[INVALID_OPTION\] --target-token >>fra<< is not a language token/);
  }, 240_000);
});
