import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import { invalidData, invalidOption } from '../errors.js';
import { dropout } from '../model/kernels/dropout.js';
import { blockedMatMul } from '../model/kernels/gemm.js';
import { addBias, linearProduct } from '../model/matmul.js';
import type { Rng } from '../rng.js';

/**
 * PEFT's default `target_modules` for LoRA by `config.model_type` (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`
 * in peft/utils/constants.py: `bart` and its relatives Marian and M2M100 take the attention's query and value
 * projections).
 */
export const DEFAULT_LORA_TARGETS: Readonly<Record<string, readonly string[]>> = {
  marian: ['q_proj', 'v_proj'],
  m2m_100: ['q_proj', 'v_proj'],
};

/** PEFT's `LoraConfig` defaults for what `--lora-alpha` and `--lora-dropout` leave out. */
export const LORA_DEFAULTS = { alpha: 8, dropout: 0 } as const;

/** The LoRA settings of a run or an adapter folder (PEFT `LoraConfig` names in comments). */
export interface LoraSettings {
  /** Rank `r`. */
  r: number;
  /** `lora_alpha`: the update is scaled by alpha / r (alpha / √r with {@link rslora}). */
  alpha: number;
  /** `lora_dropout`: dropout on the adapter's input in training. */
  dropout: number;
  /**
   * `target_modules`: module names matched as PEFT does (a name equal to the module's path or its last parts), or
   * PEFT's regex string matched against whole module paths (adapter folders only).
   */
  targets: string[] | string;
  /** `use_rslora` (read from adapter folders; `--lora` never sets it). */
  rslora?: boolean;
}

/**
 * The settings of `--lora R [--lora-alpha A] [--lora-dropout P] [--lora-targets a,b]` with PEFT's defaults for a
 * model type applied (alpha 8, dropout 0, targets {@link DEFAULT_LORA_TARGETS}). A rank that is not a positive
 * integer, a negative alpha, a dropout outside [0, 1) or an empty target list is `INVALID_OPTION`.
 */
export function resolveLoraSettings(
  options: { r: number; alpha?: number; dropout?: number; targets?: readonly string[] },
  modelType: string,
): LoraSettings {
  const { r } = options;
  if (!Number.isInteger(r) || r <= 0) invalidOption(`--lora must be a positive integer rank, got ${r}.`);
  const alpha = options.alpha ?? LORA_DEFAULTS.alpha;
  if (!Number.isFinite(alpha) || alpha <= 0) invalidOption(`--lora-alpha must be positive, got ${alpha}.`);
  const rate = options.dropout ?? LORA_DEFAULTS.dropout;
  if (!(rate >= 0 && rate < 1)) invalidOption(`--lora-dropout must be in [0, 1), got ${rate}.`);
  const targets = options.targets ?? DEFAULT_LORA_TARGETS[modelType];
  if (!targets || targets.length === 0 || targets.some((t) => !/^[A-Za-z0-9_.]+$/.test(t))) {
    invalidOption(
      `--lora-targets must be a comma-separated list of module names (e.g. q_proj,v_proj), got ${JSON.stringify(targets ?? null)}.`,
    );
  }
  return { r, alpha, dropout: rate, targets: [...targets] };
}

/** Whether PEFT's `check_target_module_exists` matches module path `prefix` against one name of `targets`. */
export function isTargetModule(prefix: string, targets: readonly string[] | string): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(prefix);
  return targets.some((t) => prefix === t || prefix.endsWith(`.${t}`));
}

let nextAdapterId = 0;

/**
 * LoRA adapters on a model's linear layers, as PEFT's `LoraLayer` adds them: for each target module with weight
 * W `[out, in]`, A `[r, in]` (kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in), as `reset_lora_parameters`)
 * and B `[out, r]` (zeros), and y = x Wᵀ + b + s · dropout(x) Aᵀ Bᵀ with s = alpha / r. Parameters are tfjs
 * variables named after the module (`model.encoder.layers.0.self_attn.q_proj.lora_A.weight`); PEFT's saved keys
 * put `base_model.model.` in front ({@link toPeftTensors}).
 */
export class LoraAdapters {
  readonly settings: LoraSettings;
  /** The update's scale s = alpha / r (alpha / √r with rsLoRA). */
  readonly scale: number;
  /** A and B of every target module, by name. */
  readonly params = new Map<string, tf.Variable>();
  /** Target module paths (`model.decoder.layers.1.self_attn.v_proj`), in model order. */
  readonly modules: string[] = [];

  /**
   * Adapters for every linear layer of `base` (HF names → variables) whose module path the settings' targets
   * match; A drawn from `rng`. No target matching is `INVALID_OPTION` naming the targets.
   */
  constructor(base: ReadonlyMap<string, tf.Variable>, settings: LoraSettings, rng: Rng) {
    this.settings = settings;
    this.scale = settings.rslora ? settings.alpha / Math.sqrt(settings.r) : settings.alpha / settings.r;
    const scope = `lora${nextAdapterId++}/`;
    for (const [name, w] of base) {
      if (!name.endsWith('.weight') || w.rank !== 2 || name === 'model.shared.weight') continue;
      const module = name.slice(0, -'.weight'.length);
      if (!isTargetModule(module, settings.targets)) continue;
      const [out, inDim] = w.shape as [number, number];
      const bound = 1 / Math.sqrt(inDim);
      const a = tf.randomUniform([settings.r, inDim], -bound, bound, 'float32', rng.seed());
      this.params.set(`${module}.lora_A.weight`, tf.variable(a, true, `${scope}${module}.lora_A.weight`));
      this.params.set(
        `${module}.lora_B.weight`,
        tf.variable(tf.zeros([out, settings.r]), true, `${scope}${module}.lora_B.weight`),
      );
      this.modules.push(module);
    }
    if (this.modules.length === 0) {
      for (const v of this.params.values()) v.dispose();
      invalidOption(
        `--lora-targets ${[settings.targets].flat().join(',')} match no linear layer of the model (e.g. q_proj, k_proj, v_proj, out_proj, fc1, fc2).`,
      );
    }
  }

  /** Number of trainable values (A and B of every module). */
  get size(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Whether module `prefix` carries an adapter. */
  has(prefix: string): boolean {
    return this.params.has(`${prefix}.lora_A.weight`);
  }

  /**
   * The adapter's term s · dropout(x) Aᵀ Bᵀ `[N, out]` for the rows `x` `[N, in]` entering module `prefix`;
   * dropout (PEFT's `lora_dropout`) only when `rng` is given and the rate is positive.
   */
  delta(prefix: string, x: tf.Tensor, rng?: Rng): tf.Tensor {
    const a = this.params.get(`${prefix}.lora_A.weight`)!;
    const b = this.params.get(`${prefix}.lora_B.weight`)!;
    const rate = this.settings.dropout;
    const input = rng && rate > 0 ? dropout(x, rate, rng.seed()) : x;
    return tf.mul(linearProduct(linearProduct(input, a), b), this.scale);
  }

  /** Adapter parameters of one layer (`model.encoder.layers.3`), in a fixed order. */
  layerParams(prefix: string): [string, tf.Variable][] {
    return [...this.params].filter(([name]) => name.startsWith(`${prefix}.`));
  }

  /** W + s · B A for module `prefix` given its weight `[out, in]` (PEFT's `get_delta_weight`, merged). */
  mergedWeight(prefix: string, weight: tf.Tensor): tf.Tensor2D {
    const a = this.params.get(`${prefix}.lora_A.weight`)!;
    const b = this.params.get(`${prefix}.lora_B.weight`)!;
    return tf.tidy(() => tf.add(weight, tf.mul(tf.matMul(b, a), this.scale))) as tf.Tensor2D;
  }

  /** A and B under the keys PEFT's `get_peft_model_state_dict` saves (`base_model.model.<module>.lora_A.weight`). */
  toPeftTensors(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [name, v] of this.params) {
      out.set(`${PEFT_PREFIX}${name}`, { dtype: 'F32', shape: v.shape, data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /**
   * Loads A and B from PEFT's saved keys (also accepted: with the adapter name, `lora_A.default.weight`, as in
   * PEFT's in-memory state dict). A missing key, a wrong shape or a LoRA key for a module without an adapter is
   * `INVALID_DATA` naming `source`.
   */
  loadPeftTensors(tensors: ReadonlyMap<string, NamedTensor>, source: string): void {
    const byName = new Map<string, NamedTensor>();
    for (const [key, t] of tensors) {
      if (!key.includes('.lora_')) continue;
      const name = key
        .replace(/^base_model\.model\./, '')
        .replace(/\.(lora_[AB])\.[^.]+\.weight$/, '.$1.weight');
      if (!this.params.has(name)) {
        invalidData(
          `${source}: ${key} is not a LoRA weight of this model's target modules (${this.settings.targets}).`,
        );
      }
      byName.set(name, t);
    }
    for (const [name, v] of this.params) {
      const t = byName.get(name);
      if (!t) invalidData(`${source}: ${PEFT_PREFIX}${name} is missing.`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        invalidData(`${source}: ${PEFT_PREFIX}${name} has shape [${t.shape}], the model needs [${v.shape}].`);
      }
      v.assign(tf.tensor(Float32Array.from(t.data as Float32Array), v.shape));
    }
  }

  /** Releases A and B. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** The prefix PEFT's `PeftModelForSeq2SeqLM` puts before the base model's keys. */
export const PEFT_PREFIX = 'base_model.model.';

/** What the LoRA hook needs of a model: its adapters, when attached. */
export interface LoraHost {
  lora?: LoraAdapters;
}

/**
 * The shared linear layer of every family: x Wᵀ + b for rows `x` `[N, in]` of module `prefix` (`linearProduct`),
 * plus s · dropout(x) Aᵀ Bᵀ when the model has an adapter on the module (`rng`: its dropout, training only). With
 * adapters attached the base is frozen, and the product takes W as a constant ({@link frozenLinearProduct}), so the
 * backward computes no dW (the x-side of the base's backward only).
 */
export function loraLinear(
  lora: LoraAdapters | undefined,
  prefix: string,
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor,
  rng?: Rng,
): tf.Tensor {
  if (!lora) return addBias(linearProduct(x, weight), bias);
  const y = tf.add(frozenLinearProduct(x, weight), bias);
  return lora.has(prefix) ? tf.add(y, lora.delta(prefix, x, rng)) : y;
}

/**
 * x Wᵀ with W a constant of the tape: the value is `linearProduct`'s (bit for bit), the gradient d x = dy W only. (A
 * custom gradient computes every input's gradient eagerly, and a frozen W's would be a discarded `[out, in]` product
 * per layer and step.) Wᵀ lives inside the custom forward's scope only: `modelGradients` keeps no transposes with
 * adapters attached, so a frozen base costs its own size in the heap and nothing per step (at the
 * NLLB-200-distilled-600M shape the kept transposes were 1.4 GB more, and the step ran out of the 4 GiB wasm heap).
 */
export function frozenLinearProduct(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const product = tf.customGrad((...inputs) => {
    const [input] = inputs as [tf.Tensor, tf.GradSaveFunc];
    return {
      value: linearProduct(input, weight),
      gradFunc: (dy: tf.Tensor) => blockedMatMul(dy, weight),
    };
  }) as (x: tf.Tensor) => tf.Tensor;
  return product(x);
}

/**
 * Attaches fresh adapters (A from `rng`, B = 0) to `model`, whose outputs are then unchanged until B trains. The
 * base stays as it is; the trainer then trains the adapters only (see {@link trainableParams}).
 */
export function attachLora(
  model: LoraHost & { params: ReadonlyMap<string, tf.Variable> },
  settings: LoraSettings,
  rng: Rng,
): LoraAdapters {
  model.lora?.dispose();
  model.lora = new LoraAdapters(model.params, settings, rng);
  return model.lora;
}

/** The parameters a trainer updates: the adapters when attached (the base frozen), else every parameter. */
export function trainableParams(
  model: LoraHost & { params: ReadonlyMap<string, tf.Variable> },
): ReadonlyMap<string, tf.Variable> {
  return model.lora ? model.lora.params : model.params;
}

/**
 * Runs `fn` with the target modules' weights replaced by W + s · B A (the adapters detached meanwhile, so the
 * forward is the merged model's), then puts W back bit for bit and re-attaches the adapters.
 */
export function withMergedWeights<T>(
  model: LoraHost & { params: ReadonlyMap<string, tf.Variable> },
  fn: () => T,
): T {
  const lora = model.lora;
  if (!lora) return fn();
  const originals = new Map<string, tf.Tensor>();
  try {
    for (const module of lora.modules) {
      const w = model.params.get(`${module}.weight`)!;
      originals.set(module, tf.clone(w));
      const merged = lora.mergedWeight(module, w);
      w.assign(merged);
      merged.dispose();
    }
    model.lora = undefined;
    return fn();
  } finally {
    model.lora = lora;
    for (const [module, original] of originals) {
      model.params.get(`${module}.weight`)!.assign(original);
      original.dispose();
    }
  }
}
