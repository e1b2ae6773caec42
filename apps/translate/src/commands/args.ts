import { type ParseArgsConfig, parseArgs } from 'node:util';
import { invalidOption } from '../errors.js';
import type { BackendName } from '../training/backend.js';

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

/** A required flag; absent is `INVALID_OPTION` with the usage. */
export function required(value: string | undefined, name: string, usage: string): string {
  if (!value) invalidOption(`--${name} is required.\n\n${usage}`);
  return value;
}

/** `--backend wasm|cpu` (default wasm). */
export function backend(value: string | undefined): BackendName {
  if (value === undefined || value === 'wasm') return 'wasm';
  if (value === 'cpu') return 'cpu';
  return invalidOption(`--backend must be wasm or cpu, got ${value}.`);
}

/** `--target-token >>deu<<`: the target-language token a multilingual OPUS-MT model expects before each source. */
export const TARGET_TOKEN_OPTION = { 'target-token': { type: 'string' } } as const;

/** Flags shared by the commands that read a data file. */
export const DATA_OPTIONS = {
  src: { type: 'string', default: 'en' },
  tgt: { type: 'string', default: 'de' },
  'skip-bad-lines': { type: 'boolean', default: false },
  backend: { type: 'string' },
} as const;
