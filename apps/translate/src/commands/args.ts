import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { invalidOption } from '@encouraging-loss/translate';
import type { BackendName } from '@encouraging-loss/translate/node';

/** One `el-translate` command: its name, a one-line summary, its usage text and what it runs. */
export interface Command {
  name: string;
  summary: string;
  /** The full usage, printed by `el-translate <name> --help`. */
  usage: string;
  run(argv: string[]): Promise<void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags (`--help` added); an unknown flag or a missing value is `INVALID_OPTION` with the
 * command's usage. Returns `undefined` after printing the usage for `--help`.
 */
export function parseCommand<O extends Options>(
  command: Pick<Command, 'name' | 'usage'>,
  argv: string[],
  options: O,
):
  | ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean' } } }>>['values']
  | undefined {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } } }));
  } catch (error) {
    return invalidOption(`${(error as Error).message}\n\n${command.usage}`);
  }
  if (values.help) {
    process.stdout.write(command.usage);
    return undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: parseArgs' value types follow the options object.
  return values as any;
}

/** A numeric flag, `fallback` when absent; anything but a finite number is `INVALID_OPTION`. */
export function number(value: string | undefined, name: string): number | undefined;
export function number(value: string | undefined, name: string, fallback: number): number;
export function number(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) invalidOption(`--${name} must be a number, got ${value}.`);
  return n;
}

/** A positive integer flag. */
export function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  const n = number(value, name, fallback);
  if (!Number.isInteger(n) || n <= 0) invalidOption(`--${name} must be a positive integer, got ${value}.`);
  return n;
}

/** A seed flag: an integer in [0, 2³²) (the generators keep 32 bits; another value would name a seed not used). */
export function seed32(value: string | undefined, name: string, fallback: number): number {
  const n = number(value, name, fallback);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    invalidOption(`--${name} must be an integer from 0 to 4294967295, got ${value}.`);
  }
  return n;
}

/** A required flag; absent is `INVALID_OPTION` with the usage. */
export function required(value: string | undefined, name: string, usage: string): string {
  if (!value) invalidOption(`--${name} is required.\n\n${usage}`);
  return value;
}

/**
 * `--threads N`: XNNPACK threads of the wasm backend; default every core (`os.availableParallelism()`). Results do
 * not depend on it (XNNPACK splits a product by output tiles; the app's own kernels run on the main thread).
 */
export function threads(value: string | undefined): number {
  return positiveInteger(value, 'threads', availableParallelism());
}

/** Usage line of `--threads`. */
export const THREADS_USAGE = `  --threads N            wasm threads (default: every core, ${availableParallelism()} here); results do not depend on it`;

/** `--backend wasm|cpu` (default wasm). */
export function backend(value: string | undefined): BackendName {
  if (value === undefined || value === 'wasm') return 'wasm';
  if (value === 'cpu') return 'cpu';
  return invalidOption(`--backend must be wasm or cpu, got ${value}.`);
}

/** `--target-token >>deu<<`: the target-language token a multilingual OPUS-MT model expects before each source. */
export const TARGET_TOKEN_OPTION = { 'target-token': { type: 'string' } } as const;

/**
 * `--src-lang eng_Latn --tgt-lang deu_Latn`: the languages of an NLLB-200 / M2M100 model (required for one, refused
 * for a Marian model; see `loadModelTokenizer`).
 */
export const LANGUAGE_OPTIONS = { 'src-lang': { type: 'string' }, 'tgt-lang': { type: 'string' } } as const;

/** Usage lines of {@link LANGUAGE_OPTIONS} and of a model flag's Hub ids. */
export const MODEL_USAGE = `  --src-lang CODE --tgt-lang CODE   the languages of an NLLB-200 / M2M100 model (eng_Latn deu_Latn; M2M100:
                         en de): required for those; a Marian (OPUS-MT) model refuses them (its pair is fixed)
  A model DIR may be a Hugging Face Hub id, ORG/NAME[@revision] (e.g. facebook/nllb-200-distilled-600M): fetched
  once into the Hub cache (HF_HUB_CACHE or HF_HOME/hub, shared with Python; HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE)`;

/** `--adapter DIR`: a PEFT LoRA adapter folder applied on the `--model` base without merging (see `loadAdapter`). */
export const ADAPTER_OPTION = { adapter: { type: 'string' } } as const;

/** Usage line of {@link ADAPTER_OPTION}. */
export const ADAPTER_USAGE = `  --adapter DIR          a LoRA adapter folder (adapter_config.json + adapter_model.safetensors, as PEFT and
                         el-translate train --lora write them) applied on the --model base, unmerged`;

/** The tokenizer choices of a command's flags: `--target-token`, `--src-lang`, `--tgt-lang`. */
export function modelLanguages(values: {
  'target-token'?: string;
  'src-lang'?: string;
  'tgt-lang'?: string;
}): { targetToken?: string; srcLang?: string; tgtLang?: string } {
  return { targetToken: values['target-token'], srcLang: values['src-lang'], tgtLang: values['tgt-lang'] };
}

/** Flags shared by the commands that read a data file. */
export const DATA_OPTIONS = {
  src: { type: 'string', default: 'en' },
  tgt: { type: 'string', default: 'de' },
  'skip-bad-lines': { type: 'boolean', default: false },
  backend: { type: 'string' },
  threads: { type: 'string' },
} as const;

/** An output folder flag (`--out`): created when missing, so only an existing file is refused (`INVALID_OPTION`). */
export function outputFolder(value: string, name: string): string {
  if (existsSync(value) && !statSync(value).isDirectory()) {
    invalidOption(`--${name} ${value} is a file; expected a folder (it is created when missing).`);
  }
  return value;
}
