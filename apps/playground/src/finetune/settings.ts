/**
 * The Fine-tune view's settings and their deep link: `#finetune?model=fx/&train=train.tsv&valid=valid.tsv&loss=cel
 * &logEnd=0.5&labelSmoothing=0.1&steps=8&seed=3&autostart=1`, or a Hub model: `model=Helsinki-NLP/opus-mt-en-de
 * &endpoint=https://hf-mirror.example`; an NLLB-200 / M2M100 model adds its language pair: `srcLang=eng_Latn
 * &tgtLang=deu_Latn` (M2M100: `en`, `de`); LoRA adds `lora=16` (the rank) and optionally `loraAlpha=32&loraDropout=0.05
 * &loraTargets=q_proj,v_proj` (`el-translate train`'s `--lora` flags). Pure (no DOM), so the worker, the view and the browser test's Node side all
 * map a link to the same library settings.
 */
import { DEFAULT_HUB_ENDPOINT, type HubModelId, parseHubId } from '@encouraging-loss/translate';

/** The losses the view offers: CE, label-smoothed CE, Encouraging Loss, Conservative EL. */
export const LOSS_NAMES = ['ce', 'ls', 'el', 'cel'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export const LOSS_LABELS: Record<LossName, string> = {
  ce: 'CE',
  ls: 'LS-CE',
  el: 'EL',
  cel: 'CEL',
};

/** What a run is: the model and data (URLs, relative to the page) and the training settings. */
export interface FinetuneSettings {
  /**
   * The model: a folder's URL (an OPUS-MT / HF Marian folder with weights) or a Hugging Face Hub id
   * `ORG/NAME[@revision]` (see {@link hubModelId}); `undefined`: the view's default.
   */
  model?: string;
  /** The Hub (or a mirror of it) a Hub id is fetched from; `undefined`: https://huggingface.co. */
  endpoint?: string;
  /**
   * Source language of an NLLB-200 / M2M100 model (`eng_Latn`; M2M100 `en`), as `loadModel` takes it: required for
   * such a model, refused for a Marian one (whose pair is fixed). Checked against the model's codes by the library.
   */
  srcLang?: string;
  /** Target language of an NLLB-200 / M2M100 model (`deu_Latn`; M2M100 `de`): forced as the first generated token. */
  tgtLang?: string;
  /** URL of the training pairs (TSV: source, tab, target); `undefined`: the bundled sample. */
  train?: string;
  /** URL of the validation pairs; `undefined`: the bundled sample. */
  valid?: string;
  loss: LossName;
  /** CEL's tangent point (used by `cel` only). */
  logEnd: number;
  /** ε (used by `ls`, `el` and `cel`; plain `ce` has none). */
  labelSmoothing: number;
  steps: number;
  seed: number;
  /** Peak learning rate; `undefined`: the library's fine-tuning default (5e-5). */
  lr?: number;
  /** Warmup steps; `undefined`: min(100, ⌈steps / 20⌉). */
  warmup?: number;
  /** Target tokens per micro-batch; `undefined`: the library's default. */
  maxTokens?: number;
  /** Validate every N steps; `undefined`: the library's default. */
  evalEvery?: number;
  /**
   * LoRA rank `r` (`el-translate train --lora R`): the base is frozen and only adapters on the target modules train;
   * `undefined`: full fine-tuning.
   */
  lora?: number;
  /** LoRA `lora_alpha` (the update is scaled by alpha / r); `undefined`: the library's default (PEFT's). */
  loraAlpha?: number;
  /** LoRA dropout on the adapters' input, in [0, 1); `undefined`: the library's default (PEFT's). */
  loraDropout?: number;
  /** LoRA `target_modules` (module names: `q_proj`, `v_proj`, `fc1`, …); `undefined`: the model type's default. */
  loraTargets?: string[];
  /** Keep checkpoints in the browser's private storage (OPFS), so a reload with the same link resumes. */
  resume: boolean;
  /** Start as soon as the view opens. */
  autostart: boolean;
}

/** The settings a link leaves out. */
export const DEFAULT_SETTINGS: Readonly<FinetuneSettings> = Object.freeze({
  loss: 'cel',
  logEnd: 0.5,
  labelSmoothing: 0.1,
  steps: 8,
  seed: 3,
  resume: false,
  autostart: false,
});

type NumberKey =
  | 'logEnd'
  | 'labelSmoothing'
  | 'steps'
  | 'seed'
  | 'lr'
  | 'warmup'
  | 'maxTokens'
  | 'evalEvery'
  | 'lora'
  | 'loraAlpha'
  | 'loraDropout';

/** The numeric parameters: range and whether they are integers. */
const NUMBERS: Record<
  NumberKey,
  { min: number; max: number; integer: boolean; minExclusive?: boolean; maxExclusive?: boolean }
> = {
  logEnd: { min: 0, max: 1, integer: false, minExclusive: true },
  labelSmoothing: { min: 0, max: 1, integer: false },
  steps: { min: 1, max: 1_000_000, integer: true },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true },
  lr: { min: 0, max: 1, integer: false, minExclusive: true },
  warmup: { min: 0, max: 1_000_000, integer: true },
  maxTokens: { min: 1, max: 10_000_000, integer: true },
  evalEvery: { min: 1, max: 1_000_000, integer: true },
  // The library's ranges (resolveLoraSettings): a positive integer rank, a positive alpha, a dropout in [0, 1).
  lora: { min: 1, max: 1_000_000, integer: true },
  loraAlpha: { min: 0, max: 1_000_000, integer: false, minExclusive: true },
  loraDropout: { min: 0, max: 1, integer: false, maxExclusive: true },
};

/** The LoRA settings that mean something only with `lora=R`. */
const LORA_KEYS = ['loraAlpha', 'loraDropout', 'loraTargets'] as const;

const URL_KEYS = ['model', 'train', 'valid'] as const;
const LANGUAGE_KEYS = ['srcLang', 'tgtLang'] as const;
const FLAG_KEYS = ['resume', 'autostart'] as const;
const KNOWN = new Set<string>([
  'loss',
  'endpoint',
  ...URL_KEYS,
  ...LANGUAGE_KEYS,
  ...FLAG_KEYS,
  ...Object.keys(NUMBERS),
  'loraTargets',
]);

/**
 * A `srcLang=` / `tgtLang=` value, or the reason it is not one: a token of letters, digits and `_` (`eng_Latn`,
 * `en`, `__en__`). Whether the model knows the code is the library's check, which names the valid codes.
 */
export function checkLanguage(
  key: 'srcLang' | 'tgtLang',
  text: string,
): { code: string } | { problem: string } {
  const code = text.trim();
  if (/^\w{1,32}$/.test(code)) return { code };
  return {
    problem: `${key} must be a language code such as ${key === 'srcLang' ? 'eng_Latn' : 'deu_Latn'}, got "${text}".`,
  };
}

/**
 * The Hub id a model field holds, or `undefined` for a URL: `ORG/NAME` or `ORG/NAME@revision` is a Hub id; anything
 * with a scheme (`https:`), a leading `.` or `/`, or a trailing `/` is a URL the page resolves against itself
 * (`fx/`, `models/x/`, `./x`). A site folder is therefore written with its trailing slash.
 */
export function hubModelId(model: string): HubModelId | undefined {
  const text = model.trim();
  if (/^[a-z][a-z\d+.-]*:/i.test(text) || /^[./]/.test(text) || text.endsWith('/')) return undefined;
  return parseHubId(text);
}

/** An `endpoint=` value: an http(s) URL without a trailing slash, or the reason it is not one. */
export function checkEndpoint(text: string): { url: string } | { problem: string } {
  const value = text.trim().replace(/\/+$/, '');
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return { url: value };
  } catch {
    // Reported below.
  }
  return { problem: `endpoint must be an http(s) URL such as ${DEFAULT_HUB_ENDPOINT}, got "${text}".` };
}

/** A parameter's value as a number, or the reason it is not one. */
export function checkNumber(key: NumberKey, text: string): number | string {
  const range = NUMBERS[key];
  const value = Number(text);
  const low = range.minExclusive ? value <= range.min : value < range.min;
  const high = range.maxExclusive ? value >= range.max : value > range.max;
  if (text.trim() === '' || !Number.isFinite(value) || low || high) {
    const from = range.minExclusive ? `above ${range.min}` : `from ${range.min}`;
    const to = range.maxExclusive ? `below ${range.max}` : `${range.max}`;
    return `${key} must be a number ${from} to ${to}, got "${text}".`;
  }
  if (range.integer && !Number.isInteger(value)) return `${key} must be an integer, got "${text}".`;
  return value;
}

/**
 * A `loraTargets=` value as its list of module names, or the reason it is not one: comma-separated names of letters,
 * digits, `_` and `.` (`q_proj,v_proj`, `self_attn.k_proj`), as `--lora-targets` takes them. Whether they match a
 * layer of the model is the library's check, which names the layers there are.
 */
export function checkLoraTargets(text: string): { targets: string[] } | { problem: string } {
  const targets = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (targets.length > 0 && targets.every((name) => /^[A-Za-z0-9_.]+$/.test(name))) return { targets };
  return {
    problem: `loraTargets must be a comma-separated list of module names such as q_proj,v_proj, got "${text}".`,
  };
}

/** The view's name and its query of a location hash: `#finetune?steps=4` → `['finetune', 'steps=4']`. */
export function splitHash(hash: string): [view: string, query: string] {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  const at = text.indexOf('?');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * Settings from a `#finetune?…` hash (or its query alone): every parameter checked, the ones left out taken from
 * {@link DEFAULT_SETTINGS}. `problems` names each bad or unknown parameter (the rest still apply).
 */
export function parseFinetuneHash(hash: string): { settings: FinetuneSettings; problems: string[] } {
  const query = hash.includes('?') || hash.startsWith('#') ? splitHash(hash)[1] : hash;
  const params = new URLSearchParams(query);
  const settings: FinetuneSettings = { ...DEFAULT_SETTINGS };
  const problems: string[] = [];
  for (const [key, value] of params) {
    if (!KNOWN.has(key)) {
      problems.push(`Unknown parameter "${key}" (known: ${[...KNOWN].join(', ')}).`);
    } else if (key === 'loss') {
      if ((LOSS_NAMES as readonly string[]).includes(value)) settings.loss = value as LossName;
      else problems.push(`loss must be one of ${LOSS_NAMES.join(', ')}, got "${value}".`);
    } else if (key === 'endpoint') {
      const checked = checkEndpoint(value);
      if ('url' in checked) settings.endpoint = checked.url;
      else problems.push(checked.problem);
    } else if ((LANGUAGE_KEYS as readonly string[]).includes(key)) {
      const checked = checkLanguage(key as (typeof LANGUAGE_KEYS)[number], value);
      if ('code' in checked) settings[key as (typeof LANGUAGE_KEYS)[number]] = checked.code;
      else problems.push(checked.problem);
    } else if (key === 'loraTargets') {
      const checked = checkLoraTargets(value);
      if ('targets' in checked) settings.loraTargets = checked.targets;
      else problems.push(checked.problem);
    } else if ((URL_KEYS as readonly string[]).includes(key)) {
      if (value.trim() === '') problems.push(`${key} must be a URL, got an empty value.`);
      else settings[key as (typeof URL_KEYS)[number]] = value.trim();
    } else if ((FLAG_KEYS as readonly string[]).includes(key)) {
      if (value === '1' || value === 'true' || value === '')
        settings[key as (typeof FLAG_KEYS)[number]] = true;
      else if (value === '0' || value === 'false') settings[key as (typeof FLAG_KEYS)[number]] = false;
      else problems.push(`${key} must be 1 or 0, got "${value}".`);
    } else {
      const checked = checkNumber(key as NumberKey, value);
      if (typeof checked === 'string') problems.push(checked);
      else settings[key as NumberKey] = checked;
    }
  }
  const loraProblem = loraSettingsProblem(settings);
  if (loraProblem) problems.push(loraProblem);
  return { settings, problems };
}

/**
 * Why the LoRA settings do not go together, if they do not: `loraAlpha`, `loraDropout` and `loraTargets` shape the
 * adapters of `lora=R` and mean nothing without it (as `el-translate train` refuses `--merge` without `--lora`).
 */
export function loraSettingsProblem(settings: Partial<FinetuneSettings>): string | undefined {
  if (settings.lora !== undefined) return undefined;
  const given = LORA_KEYS.filter((key) => settings[key] !== undefined);
  return given.length > 0 ? `${given.join(', ')} apply to LoRA only: give its rank with lora=R.` : undefined;
}

/** The `#finetune?…` hash of `settings`: only what differs from the defaults, so links stay short. */
export function finetuneHash(settings: FinetuneSettings): string {
  const params = new URLSearchParams();
  for (const key of URL_KEYS) if (settings[key] !== undefined) params.set(key, settings[key]!);
  if (settings.endpoint !== undefined) params.set('endpoint', settings.endpoint);
  for (const key of LANGUAGE_KEYS) if (settings[key] !== undefined) params.set(key, settings[key]!);
  if (settings.loss !== DEFAULT_SETTINGS.loss) params.set('loss', settings.loss);
  for (const key of Object.keys(NUMBERS) as NumberKey[]) {
    const value = settings[key];
    if (value !== undefined && value !== DEFAULT_SETTINGS[key]) params.set(key, String(value));
  }
  if (settings.loraTargets !== undefined) params.set('loraTargets', settings.loraTargets.join(','));
  for (const key of FLAG_KEYS) if (settings[key]) params.set(key, '1');
  const query = params.toString();
  return query ? `#finetune?${query}` : '#finetune';
}

/**
 * The library's loss settings for a view loss: CE has no smoothing, LS-CE is CE with ε, EL is logEnd 1 with ε,
 * CEL keeps logEnd (Li et al. 2022 smooth the bonus too).
 */
export function lossSettings(settings: Pick<FinetuneSettings, 'loss' | 'logEnd' | 'labelSmoothing'>): {
  kind: 'ce' | 'el' | 'cel';
  logEnd?: number;
  labelSmoothing: number;
} {
  switch (settings.loss) {
    case 'ce':
      return { kind: 'ce', labelSmoothing: 0 };
    case 'ls':
      return { kind: 'ce', labelSmoothing: settings.labelSmoothing };
    case 'el':
      return { kind: 'el', labelSmoothing: settings.labelSmoothing };
    case 'cel':
      return { kind: 'cel', logEnd: settings.logEnd, labelSmoothing: settings.labelSmoothing };
  }
}

/** The `fineTune` options a run's settings give (besides model, data, signal and callbacks). */
export function trainingOptions(settings: FinetuneSettings): {
  loss: ReturnType<typeof lossSettings>;
  maxSteps: number;
  seed: number;
  lr?: number;
  warmup?: number;
  maxTokens?: number;
  evalEvery?: number;
} {
  const options: ReturnType<typeof trainingOptions> = {
    loss: lossSettings(settings),
    maxSteps: settings.steps,
    seed: settings.seed,
  };
  // Left out, not `undefined`: the library applies its defaults to what is absent.
  for (const key of ['lr', 'warmup', 'maxTokens', 'evalEvery'] as const) {
    if (settings[key] !== undefined) options[key] = settings[key];
  }
  return options;
}

/**
 * The `loadModel` options a run's settings give: the language pair, only what the link names (a Marian folder
 * given either is refused by the library, an NLLB-200 / M2M100 folder without both too, naming the valid codes).
 */
export function modelOptions(settings: Pick<FinetuneSettings, 'srcLang' | 'tgtLang'>): {
  srcLang?: string;
  tgtLang?: string;
} {
  const options: ReturnType<typeof modelOptions> = {};
  for (const key of LANGUAGE_KEYS) if (settings[key] !== undefined) options[key] = settings[key];
  return options;
}

/**
 * The options `resolveLoraSettings` takes for a run's LoRA settings (what `el-translate train --lora R
 * [--lora-alpha A] [--lora-dropout P] [--lora-targets a,b]` passes it): only what the link names, so the library
 * applies its defaults (PEFT's) to the rest; `undefined` without `lora`.
 */
export function loraOptions(
  settings: Pick<FinetuneSettings, 'lora' | 'loraAlpha' | 'loraDropout' | 'loraTargets'>,
): { r: number; alpha?: number; dropout?: number; targets?: string[] } | undefined {
  if (settings.lora === undefined) return undefined;
  return {
    r: settings.lora,
    ...(settings.loraAlpha === undefined ? {} : { alpha: settings.loraAlpha }),
    ...(settings.loraDropout === undefined ? {} : { dropout: settings.loraDropout }),
    ...(settings.loraTargets === undefined ? {} : { targets: [...settings.loraTargets] }),
  };
}
