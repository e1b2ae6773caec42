/**
 * Beam search (and greedy decoding) with the key/value cache over the exported ONNX graphs, on any onnxruntime
 * build: pass `onnxruntime-web` (browser or Node) or `onnxruntime-node` as `runtime`. No Node APIs are used, so
 * this module bundles for the browser as is. The search is the one of `el-translate translate`: both run
 * {@link BeamSearch} (model/beam-search.ts), so the outputs are the same.
 */

import { type BeamOptions, BeamSearch } from '../model/beam-search.js';

/** The structural subset of an onnxruntime tensor used here. */
export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** The structural subset of an onnxruntime `InferenceSession` used here. */
export interface OrtSessionLike {
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
  /** With `fetches`: only those outputs. */
  run(
    feeds: Record<string, OrtTensorLike>,
    fetches: readonly string[],
  ): Promise<Record<string, OrtTensorLike>>;
  release?(): Promise<void>;
}

/** What the caller passes from `import * as ort from 'onnxruntime-web'` (or onnxruntime-node). */
export interface OrtRuntime {
  InferenceSession: { create(model: Uint8Array | string, options?: object): Promise<OrtSessionLike> };
  Tensor: new (
    type: 'float32' | 'int64' | 'bool',
    data: Float32Array | BigInt64Array | Uint8Array,
    dims: readonly number[],
  ) => OrtTensorLike;
}

/** The `config.json` fields the search reads (HF MarianConfig names). */
export interface TranslatorConfig {
  d_model: number;
  decoder_layers: number;
  decoder_attention_heads: number;
  vocab_size: number;
  max_position_embeddings: number;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
}

/** Options of {@link OnnxTranslator.translateIds}: those of `el-translate translate`. */
export type SearchOptions = BeamOptions;

/** Row-wise log-softmax of `[rows, vocab]` logits, in float32 like the tfjs decoder it mirrors. */
function logSoftmaxRows(logits: Float32Array, rows: number, vocab: number): Float32Array {
  const out = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, row[v]);
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
    const lse = max + Math.log(sum);
    for (let v = 0; v < vocab; v++) out[r * vocab + v] = row[v] - lse;
  }
  return out;
}

/**
 * Translation over an exported folder's `encoder_model.onnx` and `decoder_model_merged.onnx`.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-web';
 * const translator = await OnnxTranslator.create(ort, {
 *   encoder: 'model/onnx/encoder_model.onnx',
 *   decoder: 'model/onnx/decoder_model_merged.onnx',
 *   config: await (await fetch('model/config.json')).json(),
 * });
 * const [ids] = await translator.translateIds([[52, 7, 1]], { beam: 5 });
 * ```
 */
export class OnnxTranslator {
  private constructor(
    private readonly runtime: OrtRuntime,
    private readonly encoder: OrtSessionLike,
    private readonly decoder: OrtSessionLike,
    readonly config: TranslatorConfig,
  ) {}

  /** Creates the two sessions (bytes or URLs/paths, as `InferenceSession.create` takes them). */
  static async create(
    runtime: OrtRuntime,
    options: {
      encoder: Uint8Array | string;
      decoder: Uint8Array | string;
      config: TranslatorConfig;
      sessionOptions?: object;
    },
  ): Promise<OnnxTranslator> {
    const sessionOptions = options.sessionOptions ?? { executionProviders: ['wasm'] };
    const encoder = await runtime.InferenceSession.create(options.encoder, sessionOptions);
    const decoder = await runtime.InferenceSession.create(options.decoder, sessionOptions);
    return new OnnxTranslator(runtime, encoder, decoder, options.config);
  }

  /** Releases both sessions. */
  async release(): Promise<void> {
    await this.encoder.release?.();
    await this.decoder.release?.();
  }

  private int64(rows: readonly (readonly number[])[], fill: number, width?: number): OrtTensorLike {
    const length = width ?? Math.max(1, ...rows.map((r) => r.length));
    const data = new BigInt64Array(rows.length * length).fill(BigInt(fill));
    rows.forEach((row, i) => {
      row.forEach((v, j) => {
        data[i * length + j] = BigInt(v);
      });
    });
    return new this.runtime.Tensor('int64', data, [rows.length, length]);
  }

  /** Rows `indices` of a `[N, ...]` tensor, in that order (a copy on the JS side). */
  private pick(tensor: OrtTensorLike, indices: readonly number[]): OrtTensorLike {
    const data = tensor.data as Float32Array | BigInt64Array;
    const rowSize = tensor.dims[0] === 0 ? 0 : data.length / tensor.dims[0];
    const out = new (data.constructor as Float32ArrayConstructor)(indices.length * rowSize) as unknown as
      | Float32Array
      | BigInt64Array;
    for (let i = 0; i < indices.length; i++) {
      const row = indices[i];
      (out as Float32Array).set(
        (data as Float32Array).subarray(row * rowSize, (row + 1) * rowSize),
        i * rowSize,
      );
    }
    const type = data instanceof BigInt64Array ? 'int64' : 'float32';
    return new this.runtime.Tensor(type, out, [indices.length, ...tensor.dims.slice(1)]);
  }

  /**
   * Translates source id sequences (each ending in EOS) to target ids (without EOS): greedy with `beam: 1`,
   * beam search otherwise. One batch: every sentence's hypotheses run in the same decoder calls.
   */
  async translateIds(sources: number[][], options: SearchOptions = {}): Promise<number[][]> {
    const { config } = this;
    const { pad_token_id: pad, vocab_size: vocab } = config;
    const heads = config.decoder_attention_heads;
    const headDim = config.d_model / heads;
    const width = Math.max(1, ...sources.map((s) => s.length));
    const attentionMask = this.int64(
      sources.map((s) => s.map(() => 1)),
      0,
      width,
    );
    const { last_hidden_state: hidden } = await this.encoder.run({
      input_ids: this.int64(sources, pad, width),
      attention_mask: attentionMask,
    });

    // The decoder's inputs for the live rows: the cache, the source mask, and (first call only) the
    // encoder output; later calls pass an empty one, which the cached branch does not read.
    const empty = (rows: number) =>
      new this.runtime.Tensor('float32', new Float32Array(0), [rows, heads, 0, headDim]);
    let cache: Record<string, OrtTensorLike> = {};
    for (let i = 0; i < config.decoder_layers; i++) {
      for (const name of ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value']) {
        cache[`past_key_values.${i}.${name}`] = empty(sources.length);
      }
    }
    // After the first call the cross-attention keys/values are ours already: fetch only the logits and the
    // self-attention cache, so onnxruntime does not copy the passed-through ones back out on every step.
    const stepFetches = ['logits'];
    for (let i = 0; i < config.decoder_layers; i++) {
      stepFetches.push(`present.${i}.decoder.key`, `present.${i}.decoder.value`);
    }
    let sourceMask = attentionMask;
    let encoderStates = hidden;
    let first = true;

    // Row i of the cache is live row i of the search.
    const search = new BeamSearch(
      sources.map((s) => s.length),
      config,
      options,
    );
    while (!search.done) {
      const rowCount = search.rows;
      const ids = search.lastTokens().map((token) => [token]);
      const feeds = {
        input_ids: this.int64(ids, pad),
        encoder_attention_mask: sourceMask,
        encoder_hidden_states: encoderStates,
        use_cache_branch: new this.runtime.Tensor('bool', new Uint8Array([first ? 0 : 1]), [1]),
        ...cache,
      };
      const outputs = first ? await this.decoder.run(feeds) : await this.decoder.run(feeds, stepFetches);
      if (first)
        encoderStates = new this.runtime.Tensor('float32', new Float32Array(0), [
          rowCount,
          0,
          config.d_model,
        ]);
      first = false;
      const logProbs = logSoftmaxRows(outputs.logits.data as Float32Array, rowCount, vocab);

      const { rows, sameRows, sameSentences } = search.step(logProbs);
      if (!search.done) {
        // Cross-attention rows only move when a row changes sentence (hypotheses or sentences dropped).
        // The cross-attention entries: this call's outputs on the first call, the cache's own afterwards.
        const present = { ...cache, ...outputs };
        cache = Object.fromEntries(
          Object.keys(cache).map((name) => {
            const tensor = present[name.replace('past_key_values.', 'present.')] ?? cache[name];
            const keep = sameRows || (sameSentences && name.includes('.encoder.'));
            return [name, keep ? tensor : this.pick(tensor, rows)];
          }),
        );
        if (!sameSentences) {
          sourceMask = this.pick(sourceMask, rows);
          encoderStates = new this.runtime.Tensor('float32', new Float32Array(0), [
            rows.length,
            0,
            config.d_model,
          ]);
        }
      }
    }
    return search.best();
  }
}
