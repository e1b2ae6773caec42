import type { TfjsEncouragingLossOptions } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { ensureSharedIdentity } from '../model/kernels/shared-identity.js';
import {
  addEmbeddingGradient,
  causalBias,
  checkTokenIds,
  paddingBias,
  tableRows,
  withEmbeddingRows,
} from '../model/marian.js';
import { releaseWeightTransposes, withCachedWeightTransposes } from '../model/matmul.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { Rng } from '../rng.js';
import { type LossParts, projectedLossWithGrad, projectedTokenLoss } from './loss.js';

/** One batch as the model sees it: source ids and decoder inputs `[B, ·]`, and the `[B·T]` labels. */
export interface ModelBatch {
  source: tf.Tensor2D;
  decoderInput: tf.Tensor2D;
  labels: Int32Array;
}

/** Settings of {@link modelGradients}. */
export interface BackpropSettings {
  /** Dropout on when given (the masks are drawn from seeds taken from it, once per layer). */
  rng?: Rng;
  /** Leave `model.shared.weight` untrained (no gradient computed for it). */
  freezeEmbeddings?: boolean;
  /** Also return the loss parts (see `projectedTokenLoss`). */
  parts?: boolean;
  /** Tokens per chunk of the output projection. */
  chunkTokens?: number;
  /**
   * Recompute each layer in the backward instead of keeping the whole network's activations on one tape.
   * Default `'auto'`: when the estimated activations ({@link tapeBytes}) exceed {@link TAPE_BUDGET_BYTES}.
   */
  checkpoint?: boolean | 'auto';
  /**
   * How a gradient tensor becomes the host array passed to `add` (default: `dataSync`, a fresh array). The trainer
   * reads the first micro-batch's into arrays it keeps from step to step (see `accumulateGradients`).
   */
  read?: (name: string, gradient: tf.Tensor) => Float32Array;
}

/** Activation bytes above which {@link modelGradients} checkpoints by default (1 GiB of the 4 GiB wasm heap). */
export const TAPE_BUDGET_BYTES = 2 ** 30;

/**
 * Bytes a full tfjs tape keeps for one batch: about 120 `d_model`-sized float32 tensors per token and layer on the
 * wasm backend (measured at OPUS-MT base: the heap grew by 531 MiB from 200 to 400 target and source tokens, 113
 * per token and layer; before `ensureSharedIdentity` every saved tensor was also copied, 170–250).
 */
export function tapeBytes(model: Seq2SeqModel, batch: ModelBatch): number {
  const { config } = model;
  const sourceTokens = batch.source.size;
  const targetTokens = batch.decoderInput.size;
  return (
    (sourceTokens * config.encoder_layers + targetTokens * config.decoder_layers) * 120 * config.d_model * 4
  );
}

/**
 * The gradient of the summed token loss of one batch with respect to every trained parameter, with activation
 * checkpointing per layer: the forward keeps only each layer's input (`[B, L, d]`), the output projection and loss
 * run in token chunks, and the backward recomputes one layer at a time under a tape (same dropout masks: each
 * layer's are drawn from its own seed) and takes the vector–Jacobian product with the upstream gradient. The
 * tfjs heap thus holds one layer's activations at a time instead of the whole network's (at OPUS-MT base size and
 * 2,000 tokens the full tape would not fit in the 4 GiB wasm heap). Gradients are handed to `add(name, values)` as
 * host arrays as soon as each layer's are known (`model.shared.weight` once, at the end: the output projection's
 * gradient with both lookups' rows added). A layer skipped by LayerDrop (M2M100 in training) hands over no gradient for its
 * parameters at all.
 *
 * @returns the summed loss (and its parts when asked).
 */
export function modelGradients(
  model: Seq2SeqModel,
  batch: ModelBatch,
  options: TfjsEncouragingLossOptions,
  add: (name: string, values: Float32Array) => void,
  settings: BackpropSettings = {},
): { loss: number; parts?: LossParts } {
  ensureSharedIdentity();
  // With LoRA the base is frozen and may be most of the heap (NLLB-200-distilled-600M: 2.46 GB of 4 GiB): a kept
  // transpose of every linear weight would add 1.4 GB there. Each frozen product then transposes its weight for the
  // product alone and frees it (see frozenLinearProduct).
  if (model.lora) return batchGradients(model, batch, options, add, settings);
  // Each weight is transposed once for the forward, the recomputation and the backward of this batch.
  try {
    return withCachedWeightTransposes(() => batchGradients(model, batch, options, add, settings));
  } finally {
    releaseWeightTransposes();
  }
}

function batchGradients(
  model: Seq2SeqModel,
  batch: ModelBatch,
  options: TfjsEncouragingLossOptions,
  add: (name: string, values: Float32Array) => void,
  settings: BackpropSettings,
): { loss: number; parts?: LossParts } {
  // Before any tensor is made, so that bad input leaves nothing behind.
  for (const ids of [batch.source, batch.decoderInput]) checkTokenIds(ids, model.outputWeight.shape[0]);
  const checkpoint = settings.checkpoint ?? 'auto';
  const read = settings.read ?? readFresh;
  if (checkpoint === false || (checkpoint === 'auto' && tapeBytes(model, batch) <= TAPE_BUDGET_BYTES)) {
    return tapeGradients(model, batch, options, add, settings);
  }
  const { config } = model;
  const seed = () => (settings.rng ? settings.rng.seed() : undefined);
  const rngOf = (s: number | undefined) => (s === undefined ? undefined : new Rng(s));
  const encoderSeeds = Array.from({ length: config.encoder_layers + 1 }, seed);
  const decoderSeeds = Array.from({ length: config.decoder_layers + 1 }, seed);
  // In tidies: both build intermediates (a mask, its cast, a band) that would outlive the step.
  const sourceBias = tf.tidy(() => paddingBias(batch.source, config.pad_token_id));
  const causal = tf.tidy(() => causalBias(batch.decoderInput.shape[1]));
  // With LoRA adapters attached the base is frozen: only A and B get gradients (none for the embedding).
  const trainShared = !settings.freezeEmbeddings && !model.lora;
  const take = (name: string, g: tf.Tensor) => {
    add(name, read(name, g));
    g.dispose();
  };

  // Forward without a tape: the input of every layer, and the final states.
  const encoderInputs: tf.Tensor[] = [tf.tidy(() => model.embedInputs(batch.source, rngOf(encoderSeeds[0])))];
  for (let i = 0; i < config.encoder_layers; i++) {
    const x = encoderInputs[i];
    encoderInputs.push(tf.tidy(() => model.encoderLayer(i, x, sourceBias, rngOf(encoderSeeds[i + 1]))));
  }
  const encoded = encoderInputs[config.encoder_layers];
  const decoderInputs: tf.Tensor[] = [
    tf.tidy(() => model.embedInputs(batch.decoderInput, rngOf(decoderSeeds[0]))),
  ];
  for (let i = 0; i < config.decoder_layers; i++) {
    const x = decoderInputs[i];
    decoderInputs.push(
      tf.tidy(() =>
        model.decoderLayer(i, x, causal, { hidden: encoded, bias: sourceBias }, rngOf(decoderSeeds[i + 1])),
      ),
    );
  }
  const top = decoderInputs[config.decoder_layers];
  const flat = tf.reshape(top, [-1, config.d_model]) as tf.Tensor2D;
  const projected = projectedLossWithGrad(flat, model.outputWeight, model.outputBias, batch.labels, options, {
    trainWeight: trainShared,
    parts: settings.parts,
    chunkTokens: settings.chunkTokens,
  });
  flat.dispose();
  // The table's gradient stays on the host until both lookups' rows are added (as the tape path adds them).
  let sharedGradient: Float32Array | undefined;
  if (projected.dWeight) {
    sharedGradient = read(SHARED, projected.dWeight);
    projected.dWeight.dispose();
  }
  let upstream: tf.Tensor = tf.reshape(projected.dHidden, top.shape);
  projected.dHidden.dispose();

  /** Recomputes `layer` on its input under a tape; returns d input (and the extra inputs' gradients). */
  const backLayer = (
    prefix: string,
    inputs: tf.Tensor[],
    layer: (vars: tf.Variable[]) => tf.Tensor,
  ): tf.Tensor[] => {
    const inputVars = inputs.map((t) => tf.variable(t, true));
    const params = model.lora ? model.lora.layerParams(prefix) : model.layerParams(prefix);
    const dy = upstream;
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer(inputVars), dy)) as tf.Scalar,
      [...inputVars, ...params.map(([, v]) => v)],
    );
    value.dispose();
    // A layer LayerDrop skipped used none of its parameters: they get no entry (no gradient, as in PyTorch, where
    // `.grad` stays None and Adam leaves them and their moments alone), and an input it ignored gets zeros.
    for (const [name, v] of params) if (grads[v.name]) take(name, grads[v.name]);
    const out = inputVars.map((v) => grads[v.name] ?? tf.zerosLike(v));
    tf.dispose(inputVars);
    return out;
  };

  /**
   * The embedding's share of the gradient: recompute embed + dropout on the looked-up rows, VJP with the upstream
   * gradient, and those rows' gradients added to the table's (one row per token, not a dense `[V, d]` tensor).
   */
  const backEmbedding = (ids: tf.Tensor2D, layerSeed: number | undefined) => {
    if (!trainShared) return;
    const dy = upstream;
    const lookups = embeddingRows(model, [ids]);
    const { value, grads } = tf.variableGrads(
      () =>
        withEmbeddingRows(
          lookups,
          () => tf.sum(tf.mul(model.embedInputs(ids, rngOf(layerSeed)), dy)) as tf.Scalar,
        ),
      [...lookups.values()],
    );
    value.dispose();
    sharedGradient ??= new Float32Array(model.outputWeight.size);
    addLookupGradients(model, lookups, grads, sharedGradient);
    tf.dispose([...Object.values(grads), ...lookups.values()]);
  };

  let dEncoded: tf.Tensor = tf.zerosLike(encoded);
  for (let i = config.decoder_layers - 1; i >= 0; i--) {
    const [dx, dEnc] = backLayer(`model.decoder.layers.${i}`, [decoderInputs[i], encoded], ([x, enc]) =>
      model.decoderLayer(i, x, causal, { hidden: enc, bias: sourceBias }, rngOf(decoderSeeds[i + 1])),
    );
    upstream.dispose();
    upstream = dx;
    const sum = tf.add(dEncoded, dEnc);
    tf.dispose([dEncoded, dEnc]);
    dEncoded = sum;
  }
  backEmbedding(batch.decoderInput, decoderSeeds[0]);
  upstream.dispose();
  upstream = dEncoded;
  for (let i = config.encoder_layers - 1; i >= 0; i--) {
    const [dx] = backLayer(`model.encoder.layers.${i}`, [encoderInputs[i]], ([x]) =>
      model.encoderLayer(i, x, sourceBias, rngOf(encoderSeeds[i + 1])),
    );
    upstream.dispose();
    upstream = dx;
  }
  backEmbedding(batch.source, encoderSeeds[0]);
  if (sharedGradient) add(SHARED, sharedGradient);
  tf.dispose([upstream, ...encoderInputs, ...decoderInputs, sourceBias, causal]);
  return { loss: projected.loss, parts: projected.parts };
}

/** {@link modelGradients} with the whole network on one tape (fast when the activations fit). */
function tapeGradients(
  model: Seq2SeqModel,
  batch: ModelBatch,
  options: TfjsEncouragingLossOptions,
  add: (name: string, values: Float32Array) => void,
  settings: BackpropSettings,
): { loss: number; parts?: LossParts } {
  const read = settings.read ?? readFresh;
  // With LoRA adapters attached, they alone are trained (the base gets no gradient at all).
  const trained = model.lora
    ? [...model.lora.params]
    : [...model.params].filter(([name]) => !(settings.freezeEmbeddings && name === SHARED));
  const names = new Map(trained.map(([name, v]) => [v.name, name]));
  const lookups = trained.some(([name]) => name === SHARED)
    ? embeddingRows(model, [batch.decoderInput, batch.source])
    : new Map<tf.Tensor, tf.Variable>();
  let parts: LossParts | undefined;
  const { value, grads } = tf.variableGrads(
    () =>
      withEmbeddingRows(lookups, () => {
        const hidden = model.decodeHidden(
          batch.decoderInput,
          model.encode(batch.source, settings.rng),
          settings.rng,
        );
        const result = projectedTokenLoss(
          tf.reshape(hidden, [-1, model.config.d_model]) as tf.Tensor2D,
          model.outputWeight,
          model.outputBias,
          batch.labels,
          options,
          {
            grad: true,
            trainWeight: !settings.freezeEmbeddings && !model.lora,
            parts: settings.parts,
            chunkTokens: settings.chunkTokens,
          },
        );
        parts = result.parts;
        return result.loss;
      }),
    [...trained.map(([, v]) => v), ...lookups.values()],
  );
  const loss = value.dataSync()[0];
  value.dispose();
  for (const [variable, g] of Object.entries(grads)) {
    const name = names.get(variable);
    if (name === undefined) continue; // a lookup's rows: added to the table's gradient below
    const values = read(name, g);
    if (name === SHARED) addLookupGradients(model, lookups, grads, values);
    add(name, values);
  }
  tf.dispose([...Object.values(grads), ...lookups.values()]);
  return { loss, parts };
}

/** The shared table: the embedding of both stacks and the output projection. */
const SHARED = 'model.shared.weight';

/**
 * A variable of the table's rows for each ids tensor (`[B·L, d]`): under {@link withEmbeddingRows} the lookups of
 * those ids read them, so the tape gives the lookups' gradients per token instead of as dense `[V, d]` tensors.
 */
function embeddingRows(model: Seq2SeqModel, ids: readonly tf.Tensor2D[]): Map<tf.Tensor, tf.Variable> {
  const lookups = new Map<tf.Tensor, tf.Variable>();
  try {
    for (const t of ids) {
      const rows = tableRows(model.outputWeight, t); // INVALID_DATA for an id outside the table
      lookups.set(t, tf.variable(rows, true));
      rows.dispose();
    }
  } catch (error) {
    tf.dispose([...lookups.values()]);
    throw error;
  }
  return lookups;
}

/**
 * Adds the lookups' row gradients (`grads` by variable name) to the table's gradient `target`, in the order of
 * `lookups`: the decoder's ids before the source's, the order in which the tape would have added their dense
 * gradients to the output projection's. A lookup that did not read its rows (no gradient for them) has already
 * added its share through the table.
 */
function addLookupGradients(
  model: Seq2SeqModel,
  lookups: ReadonlyMap<tf.Tensor, tf.Variable>,
  grads: tf.NamedTensorMap,
  target: Float32Array,
): void {
  for (const [ids, rows] of lookups) {
    const g = grads[rows.name];
    if (!g) continue;
    addEmbeddingGradient(
      target,
      ids.dataSync(),
      g.dataSync() as Float32Array,
      model.outputWeight.shape[1] as number,
      model.config.pad_token_id,
    );
  }
}

/** A gradient's values as a new host array. */
function readFresh(_name: string, gradient: tf.Tensor): Float32Array {
  return gradient.dataSync() as Float32Array;
}
