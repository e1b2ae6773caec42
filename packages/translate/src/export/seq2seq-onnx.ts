import type { OnnxModel, OnnxValueInfo } from '@encouraging-loss/onnxruntime-web/graph';
import { GraphWriter } from './graph-writer.js';
import { quantizeColumns } from './quantize.js';

/** How MatMul weights are stored: float32, or uint8 with per-column scales (dynamic int8 quantization). */
export type WeightFormat = 'fp32' | 'int8';

/** The ONNX opset of the exported graphs (LayerNormalization needs 17). */
export const EXPORT_OPSET = 17;

/** Additive attention bias for masked positions, as the tfjs models use (softmax gives them exactly 0). */
const MASKED = -1e9;

/** The config fields the shared graph pieces read (HF names, common to Marian and M2M100). */
export interface GraphConfig {
  d_model: number;
  vocab_size: number;
  encoder_layers: number;
  decoder_layers: number;
  encoder_attention_heads: number;
  decoder_attention_heads: number;
  encoder_ffn_dim: number;
  decoder_ffn_dim: number;
  activation_function: string;
  scale_embedding: boolean;
}

/** A family's parameters by HF name, as the emitter reads them. */
export interface GraphWeights<C extends GraphConfig = GraphConfig> {
  readonly config: C;
  /** A float32 parameter; `shape` is checked (`INVALID_DATA` naming it when absent or mis-shaped). */
  get(name: string, shape: readonly number[]): Float32Array;
}

/** A stored MatMul operand: float32, or uint8 with column scales and a zero point. */
export interface StoredWeight {
  w: string;
  scale?: string;
  zero?: string;
}

/** `w` `[rows, cols]` transposed to `[cols, rows]` (PyTorch's Linear `[out, in]` → MatMul's `[in, out]`). */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

function transposeBytes(values: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/**
 * The graph pieces both families share (HF's BART-style attention, linear layers, layer norms, activations, the
 * tied embedding and its output projection), written into a {@link GraphWriter} with every parameter stored once.
 */
export class GraphEmitter<C extends GraphConfig = GraphConfig> {
  constructor(
    readonly weights: GraphWeights<C>,
    readonly format: WeightFormat,
    readonly writer: GraphWriter,
    private readonly emitted = new Map<string, StoredWeight>(),
  ) {}

  get config(): C {
    return this.weights.config;
  }

  /** The same emitter writing into a subgraph (initializers shared). */
  branch(): GraphEmitter<C> {
    return new GraphEmitter(this.weights, this.format, this.writer.branch(), this.emitted);
  }

  /** An initializer made once under `name` (later calls return the same value name). */
  once(name: string, make: () => string): string {
    const hit = this.emitted.get(name);
    if (hit) return hit.w;
    const w = make();
    this.emitted.set(name, { w });
    return w;
  }

  /** A float32 vector parameter `[size]`, stored once. */
  vector(name: string, size: number): string {
    return this.once(name, () => this.writer.weight(name, 'float32', [size], this.weights.get(name, [size])));
  }

  /** `x · Wᵀ + b` for the HF Linear `prefix` (`[out, in]`). */
  linear(x: string, prefix: string, inDim: number, outDim: number): string {
    const w = this.matmulWeight(prefix, inDim, outDim);
    return this.writer.op('Add', [this.matmul(x, w), this.vector(`${prefix}.bias`, outDim)]);
  }

  private matmulWeight(prefix: string, inDim: number, outDim: number): StoredWeight {
    const name = `${prefix}.weight`;
    const hit = this.emitted.get(name);
    if (hit) return hit;
    const data = transpose(this.weights.get(name, [outDim, inDim]), outDim, inDim);
    let entry: StoredWeight;
    if (this.format === 'fp32') entry = { w: this.writer.weight(name, 'float32', [inDim, outDim], data) };
    else {
      const q = quantizeColumns(data, inDim, outDim);
      entry = {
        w: this.writer.weight(`${name}_quantized`, 'uint8', [inDim, outDim], q.values),
        scale: this.writer.weight(`${name}_scale`, 'float32', [outDim], q.scales),
        zero: this.writer.constant('uint8', [], [q.zeroPoint]),
      };
    }
    this.emitted.set(name, entry);
    return entry;
  }

  /**
   * `x · W` for a stored weight: MatMul in fp32; in int8 the pattern onnxruntime's `quantize_dynamic` writes
   * (DynamicQuantizeLinear → MatMulInteger → Cast → Mul by the activation scale × the weight's column scales).
   */
  matmul(x: string, w: StoredWeight): string {
    if (!w.scale || !w.zero) return this.writer.op('MatMul', [x, w.w]);
    const [qx, xScale, xZero] = this.writer.ops('DynamicQuantizeLinear', [x], 3);
    const product = this.writer.op('MatMulInteger', [qx, w.w, xZero, w.zero]);
    const asFloat = this.writer.op('Cast', [product], { to: { int: 1 } });
    return this.writer.op('Mul', [asFloat, this.writer.op('Mul', [xScale, w.scale])]);
  }

  /** LayerNorm over the last axis with HF's ε 1e-5. */
  layerNorm(x: string, prefix: string): string {
    const d = this.config.d_model;
    return this.writer.op(
      'LayerNormalization',
      [x, this.vector(`${prefix}.weight`, d), this.vector(`${prefix}.bias`, d)],
      { axis: { int: -1 }, epsilon: { float: 1e-5 } },
    );
  }

  /** HF `ACT2FN[activation_function]`: relu, gelu (erf), gelu_new (tanh), swish / silu. */
  activation(x: string): string {
    const w = this.writer;
    switch (this.config.activation_function) {
      case 'relu':
        return w.op('Relu', [x]);
      case 'gelu': {
        const erf = w.op('Erf', [w.op('Div', [x, w.float(Math.SQRT2)])]);
        return w.op('Mul', [w.op('Mul', [x, w.float(0.5)]), w.op('Add', [erf, w.float(1)])]);
      }
      case 'gelu_new': {
        const cube = w.op('Mul', [w.op('Mul', [x, x]), x]);
        const inner = w.op('Mul', [
          w.op('Add', [x, w.op('Mul', [cube, w.float(0.044715)])]),
          w.float(Math.sqrt(2 / Math.PI)),
        ]);
        return w.op('Mul', [
          w.op('Mul', [x, w.float(0.5)]),
          w.op('Add', [w.op('Tanh', [inner]), w.float(1)]),
        ]);
      }
      default:
        return w.op('Mul', [x, w.op('Sigmoid', [x])]);
    }
  }

  /** `[B, L, d]` → `[B, H, L, d/H]`. */
  heads(x: string, count: number): string {
    const reshaped = this.writer.op('Reshape', [
      x,
      this.writer.ints([0, 0, count, this.config.d_model / count]),
    ]);
    return this.writer.op('Transpose', [reshaped], { perm: { ints: [0, 2, 1, 3] } });
  }

  /** Queries scaled by 1/√(d/H), as HF's BART-style attention scales them before the product. */
  query(x: string, prefix: string, count: number): string {
    const d = this.config.d_model;
    const projected = this.linear(x, `${prefix}.q_proj`, d, d);
    return this.heads(this.writer.op('Mul', [projected, this.writer.float((d / count) ** -0.5)]), count);
  }

  keyValue(x: string, prefix: string, count: number): { key: string; value: string } {
    const d = this.config.d_model;
    return {
      key: this.heads(this.linear(x, `${prefix}.k_proj`, d, d), count),
      value: this.heads(this.linear(x, `${prefix}.v_proj`, d, d), count),
    };
  }

  /** softmax(q·kᵀ + bias)·v, heads merged, through `out_proj`. */
  attend(q: string, k: string, v: string, bias: string | undefined, prefix: string): string {
    const w = this.writer;
    const d = this.config.d_model;
    let scores = w.op('MatMul', [q, w.op('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } })]);
    if (bias) scores = w.op('Add', [scores, bias]);
    const probs = w.op('Softmax', [scores], { axis: { int: -1 } });
    const merged = w.op('Reshape', [
      w.op('Transpose', [w.op('MatMul', [probs, v])], { perm: { ints: [0, 2, 1, 3] } }),
      w.ints([0, 0, d]),
    ]);
    return this.linear(merged, `${prefix}.out_proj`, d, d);
  }

  /** Self-attention without cache (the encoder's): q, k, v all from `x`. */
  selfAttention(x: string, prefix: string, count: number, bias: string): string {
    const q = this.query(x, prefix, count);
    const { key, value } = this.keyValue(x, prefix, count);
    return this.attend(q, key, value, bias, prefix);
  }

  feedForward(x: string, prefix: string, ffn: number): string {
    const d = this.config.d_model;
    return this.linear(this.activation(this.linear(x, `${prefix}.fc1`, d, ffn)), `${prefix}.fc2`, ffn, d);
  }

  /** The shared embedding: float32 `[V, d]`, or uint8 with a scale per row (one per vocabulary entry). */
  embeddingTable(): StoredWeight {
    const hit = this.emitted.get('model.shared.weight');
    if (hit) return hit;
    const { vocab_size: vocab, d_model: d } = this.config;
    const data = this.weights.get('model.shared.weight', [vocab, d]);
    let entry: StoredWeight;
    if (this.format === 'fp32')
      entry = { w: this.writer.weight('model.shared.weight', 'float32', [vocab, d], data) };
    else {
      // Rows of the table are the columns of its transpose: quantize the transpose column-wise.
      const q = quantizeColumns(transpose(data, vocab, d), d, vocab);
      entry = {
        w: this.writer.weight(
          'model.shared.weight_quantized',
          'uint8',
          [vocab, d],
          transposeBytes(q.values, d, vocab),
        ),
        scale: this.writer.weight('model.shared.weight_scale', 'float32', [vocab], q.scales),
        zero: this.writer.constant('uint8', [], [q.zeroPoint]),
      };
    }
    this.emitted.set('model.shared.weight', entry);
    return entry;
  }

  /** Token embeddings `[B, L, d]` of `ids`, × √d with `scale_embedding`. */
  tokenEmbeddings(ids: string): string {
    const w = this.writer;
    const table = this.embeddingTable();
    let tokens: string;
    if (!table.scale || !table.zero) tokens = w.op('Gather', [table.w, ids], { axis: { int: 0 } });
    else {
      const rows = w.op('Cast', [w.op('Gather', [table.w, ids], { axis: { int: 0 } })], { to: { int: 1 } });
      const centred = w.op('Sub', [rows, w.float(128)]);
      const scales = w.op('Unsqueeze', [
        w.op('Gather', [table.scale, ids], { axis: { int: 0 } }),
        w.ints([-1]),
      ]);
      tokens = w.op('Mul', [centred, scales]);
    }
    if (this.config.scale_embedding) tokens = w.op('Mul', [tokens, w.float(Math.sqrt(this.config.d_model))]);
    return tokens;
  }

  /** Rows `positions` (any int64 shape) of a fixed float32 table `[rows, d]` stored once as `name`. */
  positionRows(name: string, rows: number, table: () => Float32Array, positions: string): string {
    const d = this.config.d_model;
    const stored = this.once(name, () => this.writer.weight(name, 'float32', [rows, d], table()));
    return this.writer.op('Gather', [stored, positions], { axis: { int: 0 } });
  }

  /** `[B, S]` int64 mask (1 = token) → additive bias `[B, 1, 1, S]`. */
  paddingBias(mask: string): string {
    const w = this.writer;
    const missing = w.op('Sub', [w.float(1), w.op('Cast', [mask], { to: { int: 1 } })]);
    return w.op('Unsqueeze', [w.op('Mul', [missing, w.float(MASKED)]), w.ints([1, 2])]);
  }

  /**
   * Hidden states `[B, T, d]` → logits `[B, T, V]` through the tied embedding, plus `bias` `[V]` when the family
   * has one (Marian's `final_logits_bias`).
   */
  tiedLogits(x: string, bias?: string): string {
    const w = this.writer;
    const { vocab_size: vocab, d_model: d } = this.config;
    const table = this.embeddingTable();
    if (!table.scale || !table.zero) {
      // Gemm reads the table as stored ([V, d], transB) and adds the bias: one node, no transposed copy.
      const flat = w.op('Reshape', [x, w.ints([-1, d])]);
      const product = w.op('Gemm', bias ? [flat, table.w, bias] : [flat, table.w], { transB: { int: 1 } });
      const shape = w.op(
        'Concat',
        [w.op('Slice', [w.op('Shape', [x]), w.ints([0]), w.ints([2])]), w.ints([vocab])],
        { axis: { int: 0 } },
      );
      return w.op('Reshape', [product, shape]);
    }
    // MatMulInteger has no transB: the transpose of the uint8 table is a constant onnxruntime folds at load.
    const transposed = w.op('Transpose', [table.w], { perm: { ints: [1, 0] } });
    const product = this.matmul(x, { w: transposed, scale: table.scale, zero: table.zero });
    return bias ? w.op('Add', [product, bias]) : product;
  }
}

const producer = { producerName: 'el-translate', opsetImports: [{ domain: '', version: EXPORT_OPSET }] };

/** The encoder's inputs as transformers.js and optimum name them. */
export interface EncoderInputs {
  /** `[batch_size, encoder_sequence_length]` int64. */
  inputIds: string;
  /** The same shape, 1 for tokens and 0 for padding. */
  attentionMask: string;
}

/**
 * An encoder model as transformers.js and optimum name it: `input_ids`, `attention_mask` `[batch_size,
 * encoder_sequence_length]` int64 → `last_hidden_state` `[batch_size, encoder_sequence_length, d_model]`. `body`
 * writes the family's layers and returns the last hidden state.
 */
export function encoderGraph<C extends GraphConfig>(
  name: string,
  weights: GraphWeights<C>,
  format: WeightFormat,
  body: (e: GraphEmitter<C>, inputs: EncoderInputs) => string,
): OnnxModel {
  const e = new GraphEmitter(weights, format, new GraphWriter());
  const hidden = body(e, { inputIds: 'input_ids', attentionMask: 'attention_mask' });
  e.writer.op('Identity', [hidden], {}, 'last_hidden_state');
  const ids = ['batch_size', 'encoder_sequence_length'];
  return {
    ...producer,
    graph: e.writer.toGraph(
      name,
      [
        { name: 'input_ids', type: 'int64', shape: ids },
        { name: 'attention_mask', type: 'int64', shape: ids },
      ],
      [{ name: 'last_hidden_state', type: 'float32', shape: [...ids, weights.config.d_model] }],
    ),
  };
}

/** Names of the decoder's cache inputs (`past_key_values.*`) or outputs (`present.*`), per layer. */
export function cacheNames(config: { decoder_layers: number }, prefix: 'past_key_values' | 'present') {
  return Array.from({ length: config.decoder_layers }, (_, i) => ({
    decoderKey: `${prefix}.${i}.decoder.key`,
    decoderValue: `${prefix}.${i}.decoder.value`,
    encoderKey: `${prefix}.${i}.encoder.key`,
    encoderValue: `${prefix}.${i}.encoder.value`,
  }));
}

/** What the merged decoder gives a family's layers: attention with the cache wired in, and the step's inputs. */
export interface DecoderContext {
  /** `input_ids` `[B, T]` int64. */
  inputIds: string;
  /** Past length (int64 scalar): positions of this call's tokens start there. */
  pastLength: string;
  /** `[T]` int64: pastLength … pastLength + T − 1. */
  queryPositions: string;
  /** Causal self-attention of layer `i` over past + new keys (writes `present.{i}.decoder.*`). */
  selfAttention(x: string, i: number): string;
  /** Cross-attention of layer `i` over the encoder (keys/values from the `If`, masked by the source padding). */
  crossAttention(x: string, i: number): string;
}

/**
 * The merged decoder (optimum's `decoder_model_merged.onnx`): `input_ids` `[batch_size, decoder_sequence_length]`,
 * `encoder_hidden_states`, `encoder_attention_mask`, the cache `past_key_values.{i}.{decoder|encoder}.{key|value}`
 * `[batch_size, heads, length, head_dim]` and `use_cache_branch` `[1]` bool → `logits` and `present.*`.
 *
 * Self-attention keys and values are the past ones concatenated with the new (an empty past on the first call),
 * and a causal bias masks later positions, so one graph serves both the first call with a whole prefix and the
 * steps after it. The cross-attention keys and values are computed from `encoder_hidden_states` when
 * `use_cache_branch` is false and passed through from the past otherwise (an `If`). `body` writes the family's
 * embedding and layers with the {@link DecoderContext} and returns the logits.
 */
export function decoderGraph<C extends GraphConfig>(
  name: string,
  weights: GraphWeights<C>,
  format: WeightFormat,
  body: (e: GraphEmitter<C>, context: DecoderContext) => string,
): OnnxModel {
  const { config } = weights;
  const e = new GraphEmitter(weights, format, new GraphWriter());
  const w = e.writer;
  const heads = config.decoder_attention_heads;
  const headDim = config.d_model / heads;
  const past = cacheNames(config, 'past_key_values');
  const present = cacheNames(config, 'present');

  // Cross-attention keys/values: computed (no cache) or passed through (cache) in the two branches of an If.
  const computed = e.branch();
  const reused = e.branch();
  const branchOutputs = (names: string[]): OnnxValueInfo[] =>
    names.map((output) => ({ name: output, type: 'float32' }));
  const computedNames: string[] = [];
  const reusedNames: string[] = [];
  for (let i = 0; i < config.decoder_layers; i++) {
    const { key, value } = computed.keyValue(
      'encoder_hidden_states',
      `model.decoder.layers.${i}.encoder_attn`,
      heads,
    );
    computedNames.push(
      computed.writer.op('Identity', [key], {}, `/computed/${present[i].encoderKey}`),
      computed.writer.op('Identity', [value], {}, `/computed/${present[i].encoderValue}`),
    );
    reusedNames.push(
      reused.writer.op('Identity', [past[i].encoderKey], {}, `/reused/${present[i].encoderKey}`),
      reused.writer.op('Identity', [past[i].encoderValue], {}, `/reused/${present[i].encoderValue}`),
    );
  }
  w.nodes.push({
    opType: 'If',
    inputs: [w.op('Squeeze', ['use_cache_branch', w.ints([0])])],
    outputs: present.flatMap((p) => [p.encoderKey, p.encoderValue]),
    attributes: {
      then_branch: { graph: reused.writer.toGraph('use_cache', [], branchOutputs(reusedNames)) },
      else_branch: { graph: computed.writer.toGraph('compute_cross', [], branchOutputs(computedNames)) },
    },
  });

  const pastLength = w.op('Gather', [w.op('Shape', [past[0].decoderKey]), w.int(2)], { axis: { int: 0 } });
  const length = w.op('Gather', [w.op('Shape', ['input_ids']), w.int(1)], { axis: { int: 0 } });
  const total = w.op('Add', [pastLength, length]);
  const queryPositions = w.op('Range', [pastLength, total, w.int(1)]);
  const keyPositions = w.op('Range', [w.int(0), total, w.int(1)]);
  // Query at position t sees keys at positions ≤ t: bias [T, past + T], 0 or −1e9.
  const later = w.op('Greater', [
    w.op('Unsqueeze', [keyPositions, w.ints([0])]),
    w.op('Unsqueeze', [queryPositions, w.ints([1])]),
  ]);
  const causal = w.op('Where', [later, w.float(MASKED), w.float(0)]);
  const crossBias = e.paddingBias('encoder_attention_mask');

  const logits = body(e, {
    inputIds: 'input_ids',
    pastLength,
    queryPositions,
    selfAttention(x, i) {
      const p = `model.decoder.layers.${i}.self_attn`;
      const q = e.query(x, p, heads);
      const fresh = e.keyValue(x, p, heads);
      const key = w.op(
        'Concat',
        [past[i].decoderKey, fresh.key],
        { axis: { int: 2 } },
        present[i].decoderKey,
      );
      const value = w.op(
        'Concat',
        [past[i].decoderValue, fresh.value],
        { axis: { int: 2 } },
        present[i].decoderValue,
      );
      return e.attend(q, key, value, causal, p);
    },
    crossAttention(x, i) {
      const p = `model.decoder.layers.${i}.encoder_attn`;
      const q = e.query(x, p, heads);
      return e.attend(q, present[i].encoderKey, present[i].encoderValue, crossBias, p);
    },
  });
  w.op('Identity', [logits], {}, 'logits');

  const batch = 'batch_size';
  const cacheShape = (cacheLength: string) => [batch, heads, cacheLength, headDim];
  const inputs: OnnxValueInfo[] = [
    { name: 'encoder_attention_mask', type: 'int64', shape: [batch, 'encoder_sequence_length'] },
    { name: 'input_ids', type: 'int64', shape: [batch, 'decoder_sequence_length'] },
    {
      name: 'encoder_hidden_states',
      type: 'float32',
      shape: [batch, 'encoder_sequence_length', config.d_model],
    },
  ];
  const outputs: OnnxValueInfo[] = [
    { name: 'logits', type: 'float32', shape: [batch, 'decoder_sequence_length', config.vocab_size] },
  ];
  for (let i = 0; i < config.decoder_layers; i++) {
    inputs.push(
      { name: past[i].decoderKey, type: 'float32', shape: cacheShape('past_decoder_sequence_length') },
      { name: past[i].decoderValue, type: 'float32', shape: cacheShape('past_decoder_sequence_length') },
      { name: past[i].encoderKey, type: 'float32', shape: cacheShape('encoder_sequence_length_out') },
      { name: past[i].encoderValue, type: 'float32', shape: cacheShape('encoder_sequence_length_out') },
    );
    outputs.push(
      { name: present[i].decoderKey, type: 'float32', shape: cacheShape('total_decoder_sequence_length') },
      { name: present[i].decoderValue, type: 'float32', shape: cacheShape('total_decoder_sequence_length') },
      { name: present[i].encoderKey, type: 'float32', shape: cacheShape('encoder_sequence_length_out') },
      { name: present[i].encoderValue, type: 'float32', shape: cacheShape('encoder_sequence_length_out') },
    );
  }
  inputs.push({ name: 'use_cache_branch', type: 'bool', shape: [1] });
  return { ...producer, graph: w.toGraph(name, inputs, outputs) };
}
