import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findWeights, invalidData, WEIGHT_FILES, withIo } from '@encouraging-loss/translate';
import { nodeFolder, readJsonFile } from '@encouraging-loss/translate/node';
import packageJson from '../../package.json' with { type: 'json' };

/** A file as a run records it: where it was, its size and its SHA-256. Only size and hash define the run. */
export interface FileIdentity {
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * The settings that define a training run: what it trains on, from what, with which loss and optimisation. A
 * resume that disagrees with any of them would mix two runs; `--max-steps`, `--patience`, `--eval-every`,
 * `--log-every`, `--keep-last`, `--backend` and `--quiet` are not part of it.
 */
export interface RunSettings {
  /** `--loss` and the adapter options it resolves to (defaults applied). */
  loss: { kind: string; logEnd: number; bonusWeight: number; labelSmoothing: number; bonusFloor: number };
  lr: number;
  schedule: string;
  warmup: number;
  clip: number;
  seed: number;
  maxTokens: number;
  accumulate: number;
  sourceLanguage: string;
  targetLanguage: string;
  targetToken: string | null;
  /** NLLB-200 / M2M100 language codes (`--src-lang`, `--tgt-lang`); absent for Marian runs. */
  srcLang?: string;
  tgtLang?: string;
  skipBadLines: boolean;
  freezeEmbeddings: boolean;
  /**
   * `--lora R` and its options with PEFT's defaults applied (`targets` as given or the model type's), and whether
   * the result is written merged (`--merge`); absent for a run that trains every parameter.
   */
  lora?: { r: number; alpha: number; dropout: number; targets: string[]; merge: boolean };
  train: FileIdentity[];
  valid: FileIdentity[] | null;
  /** `--init`: its config and weight files; or from scratch: `--config`, `--vocab-size`, `--tokenizer`. */
  model:
    | { init: string; config: FileIdentity; weights: FileIdentity[]; hub?: HubSource }
    | { config: string | FileIdentity; vocabSize: number | null; tokenizer: FileIdentity[] | null };
}

/** A Hub model a run started from: the repository, the revision asked for and the commit it resolved to. */
export interface HubSource {
  repo: string;
  revision: string;
  commit: string;
}

/** `run.json`: the settings a run folder was created with, the package that wrote it and, once done, its result. */
export interface RunRecord {
  format: 1;
  package: { name: string; version: string };
  settings: RunSettings;
  /** The result of the run's last completed (not interrupted) call. */
  result?: Record<string, unknown>;
}

/** The package that writes run folders. */
export const PACKAGE = { name: packageJson.name, version: packageJson.version };

/** SHA-256 (hex) of a file, read in 4 MiB chunks (a base model's weights are hundreds of MB). */
export function sha256File(path: string): string {
  return withIo('read', path, () => {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(1 << 22);
    const fd = openSync(path, 'r');
    try {
      for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return hash.digest('hex');
  });
}

/** Size and hash of a file. */
export function fileIdentity(path: string): FileIdentity {
  return { path: resolve(path), bytes: statSync(path).size, sha256: sha256File(path) };
}

/** The weight files of a model folder: its preferred weights file, or every shard of a sharded index. */
export function weightFiles(dir: string): string[] {
  const name = findWeights(nodeFolder(dir));
  if (!name) return [];
  const file = join(dir, name);
  if (!file.endsWith('.index.json')) return [file];
  const map = (readJsonFile(file, 'Weights index') as { weight_map?: Record<string, unknown> })?.weight_map;
  const shards = new Set(Object.values(map ?? {}).filter((s): s is string => typeof s === 'string'));
  return [file, ...[...shards].sort().map((s) => join(dirname(file), s))];
}

/**
 * The identity of an `--init` model folder: its `config.json` and weight files, and for a Hub snapshot the
 * repository, revision and commit it was resolved from (`hub`).
 */
export function initIdentity(
  dir: string,
  hub?: HubSource,
): { init: string; config: FileIdentity; weights: FileIdentity[]; hub?: HubSource } {
  const weights = weightFiles(dir);
  if (weights.length === 0) invalidData(`${dir} has no weights (${WEIGHT_FILES.join(', ')}).`);
  return {
    init: resolve(dir),
    config: fileIdentity(join(dir, 'config.json')),
    weights: weights.map(fileIdentity),
    ...(hub ? { hub: { repo: hub.repo, revision: hub.revision, commit: hub.commit } } : {}),
  };
}

function isFile(value: unknown): value is FileIdentity {
  return typeof value === 'object' && value !== null && 'sha256' in value && 'bytes' in value;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isFile(value) || typeof value !== 'object' || value === null) {
    out.set(prefix, value);
    return;
  }
  if (Array.isArray(value) && value.every(isFile)) {
    out.set(prefix, value);
    return;
  }
  for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
}

function same(a: unknown, b: unknown): boolean {
  const files = (v: unknown) => (Array.isArray(v) ? v : [v]) as FileIdentity[];
  if ((isFile(a) || Array.isArray(a)) && (isFile(b) || Array.isArray(b))) {
    const [x, y] = [files(a), files(b)];
    return x.length === y.length && x.every((f, i) => f.sha256 === y[i].sha256 && f.bytes === y[i].bytes);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  const describe = (f: FileIdentity) => `${f.path} (${f.bytes} bytes, sha256 ${f.sha256.slice(0, 12)}…)`;
  if (isFile(value)) return describe(value);
  if (Array.isArray(value) && value.every(isFile)) return value.map(describe).join(' + ');
  return JSON.stringify(value);
}

/**
 * What differs between a run folder's recorded settings and a new call's, one line per setting:
 * `loss.kind: recorded "cel", now "ce"`. Files compare by size and hash (a moved file is the same file).
 */
export function settingsDifferences(recorded: RunSettings, current: RunSettings): string[] {
  const [a, b] = [new Map<string, unknown>(), new Map<string, unknown>()];
  flatten(recorded, '', a);
  flatten(current, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys
    .filter((key) => !same(a.get(key), b.get(key)))
    .map((key) => `${key}: recorded ${show(a.get(key))}, now ${show(b.get(key))}`);
}
