import { invalidData } from '../errors.js';
import type { MarianConfig } from '../model/config.js';
import { marianSinusoidTable } from '../model/positions.js';
import type { NamedTensor } from './safetensors.js';

/**
 * Keys HF `MarianMTModel` ties to `model.shared.weight` (`_tied_weights_keys`, with
 * `share_encoder_decoder_embeddings` and `tie_word_embeddings` both true, the only layout the model implements).
 * A checkpoint may carry any subset of them; `from_pretrained` fills the rest from the one present.
 */
export const TIED_KEYS = [
  'model.shared.weight',
  'model.encoder.embed_tokens.weight',
  'model.decoder.embed_tokens.weight',
  'lm_head.weight',
] as const;

/** Static sinusoidal tables: may be present (older uploads) or absent (`_keys_to_ignore_on_save`). */
export const POSITION_KEYS = ['model.encoder.embed_positions.weight', 'model.decoder.embed_positions.weight'];

/** Float32 values of a tensor; F16/BF16 were upcast when read, F64 is rounded. */
/** A tensor's values as float32 (float64 narrowed); integer tensors are `INVALID_DATA` naming the family. */
export function floatValues(
  tensor: NamedTensor,
  name: string,
  source: string,
  family = 'Marian',
): Float32Array {
  if (tensor.data instanceof Float32Array) return tensor.data;
  if (tensor.data instanceof Float64Array) return Float32Array.from(tensor.data);
  return invalidData(
    `${source}: ${name} holds ${tensor.dtype} values; ${family} weights are floating point.`,
  );
}

/** Bit-identical float32 arrays (tied copies of one embedding must be exactly equal). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The tensors of a bare `…Model` checkpoint (keys `shared.*`, `encoder.*`, `decoder.*` without the `model.` of a
 * `…ForConditionalGeneration` one) with the prefix added, as `from_pretrained` maps them; others as they are.
 */
export function withModelPrefix(input: ReadonlyMap<string, NamedTensor>): Map<string, NamedTensor> {
  const keys = [...input.keys()];
  const bare = (k: string) => /^(shared|encoder|decoder)\./.test(k);
  if (keys.some((k) => k.startsWith('model.')) || !keys.some(bare)) return new Map(input);
  return new Map(keys.map((k) => [bare(k) ? `model.${k}` : k, input.get(k)!]));
}

/**
 * Maps the tensors of an HF Marian checkpoint to the parameter names `expected` (the model's), the way
 * `MarianMTModel.from_pretrained` resolves them:
 * - a checkpoint of the bare `MarianModel` (keys without the `model.` prefix) gets the prefix;
 * - the shared embedding comes from whichever of {@link TIED_KEYS} is present; present copies must be identical
 *   (the config ties them, so differing copies cannot be loaded faithfully);
 * - a missing `final_logits_bias` is zeros (`_keys_to_ignore_on_load_missing`);
 * - `embed_positions` tables, when present, must be Marian's sinusoids of shape
 *   `[max_position_embeddings, d_model]` (learned positions are not implemented), and are then dropped.
 * Any other unexpected key is `INVALID_DATA` naming it (HF would warn and drop it; here nothing is ignored
 * silently). Missing parameters and shapes are checked by the model's `loadNamedTensors`.
 */
export function resolveMarianTensors(
  input: ReadonlyMap<string, NamedTensor>,
  config: MarianConfig,
  expected: Iterable<string> | undefined,
  source: string,
): Map<string, NamedTensor> {
  const tensors = withModelPrefix(input);
  const out = new Map<string, NamedTensor>();
  const wanted = expected && new Set(expected);

  let shared: { name: string; data: Float32Array; shape: number[] } | undefined;
  for (const name of TIED_KEYS) {
    const tensor = tensors.get(name);
    if (!tensor) continue;
    const data = floatValues(tensor, name, source);
    if (!shared) shared = { name, data, shape: tensor.shape };
    else if (tensor.shape.join() !== shared.shape.join() || !sameBits(data, shared.data)) {
      invalidData(
        `${source}: ${name} differs from ${shared.name}, but the config ties them (share_encoder_decoder_embeddings, tie_word_embeddings).`,
      );
    }
    tensors.delete(name);
  }
  if (shared) out.set('model.shared.weight', { dtype: 'F32', shape: shared.shape, data: shared.data });

  const bias = tensors.get('final_logits_bias');
  tensors.delete('final_logits_bias');
  out.set(
    'final_logits_bias',
    bias
      ? { dtype: 'F32', shape: bias.shape, data: floatValues(bias, 'final_logits_bias', source) }
      : { dtype: 'F32', shape: [1, config.vocab_size], data: new Float32Array(config.vocab_size) },
  );

  for (const name of POSITION_KEYS) {
    const tensor = tensors.get(name);
    if (!tensor) continue;
    tensors.delete(name);
    const { max_position_embeddings: count, d_model: dim } = config;
    if (tensor.shape.join() !== [count, dim].join()) {
      invalidData(`${source}: ${name} has shape [${tensor.shape}], the config needs [${count}, ${dim}].`);
    }
    const data = floatValues(tensor, name, source);
    const table = marianSinusoidTable(count, dim);
    for (let i = 0; i < data.length; i++) {
      if (!(Math.abs(data[i] - table[i]) <= 1e-6)) {
        invalidData(
          `${source}: ${name} is not Marian's sinusoidal table (element ${i}: ${data[i]} vs ${table[i]}); learned positions are not implemented.`,
        );
      }
    }
  }

  for (const [name, tensor] of tensors) {
    if (wanted && !wanted.has(name)) {
      invalidData(`${source}: tensor ${name} is not a parameter of MarianMTModel with this config.`);
    }
    out.set(name, { dtype: 'F32', shape: tensor.shape, data: floatValues(tensor, name, source) });
  }
  return out;
}
