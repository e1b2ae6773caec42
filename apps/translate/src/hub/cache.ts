import { copyFile, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { isCommitSha } from '@encouraging-loss/translate';

/** Environment variables read by the Hub functions (`process.env` unless a test passes its own). */
export type HubEnv = Readonly<Record<string, string | undefined>>;

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (as `huggingface_hub` reads it). */
export function hfHome(env: HubEnv = process.env): string {
  return expandHome(env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface'));
}

/**
 * The Hub cache folder shared with Python's `huggingface_hub`: `HF_HUB_CACHE`, else the legacy
 * `HUGGINGFACE_HUB_CACHE`, else `{@link hfHome}/hub` (so `HF_HOME/hub`, else `~/.cache/huggingface/hub`).
 */
export function hubCacheDir(env: HubEnv = process.env): string {
  return expandHome(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), 'hub'));
}

/** The commit `refs/{revision}` points at, or `undefined` when there is no such ref. */
export async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  try {
    const commit = (await readFile(join(repoDir, 'refs', revision), 'utf8')).trim();
    return isCommitSha(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `refs/{revision}` = `commit` (no newline, as Python writes it), atomically. */
export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  const path = join(repoDir, 'refs', revision);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, commit);
  await rename(temporary, path);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function shardsPresent(snapshotDir: string, index: string): Promise<boolean> {
  try {
    const { weight_map: weightMap } = JSON.parse(await readFile(join(snapshotDir, index), 'utf8'));
    const shards = [...new Set(Object.values(weightMap as Record<string, string>))];
    for (const shard of shards)
      if (!/^[\w.-]+$/.test(shard) || !(await isFile(join(snapshotDir, shard)))) return false;
    return shards.length > 0;
  } catch {
    return false;
  }
}

/**
 * What a cached snapshot lacks to be loaded as a translation model (empty when complete): `config.json`, complete
 * weights (`model.safetensors`, a sharded index with all its shards, or the `pytorch_model.bin` forms) and a tokenizer
 * (`source.spm` + `target.spm` + `vocab.json`, `tokenizer.json` or `sentencepiece.bpe.model`). Links into `blobs/`
 * count only when their blob is there, so a snapshot Python filled in part is completed rather than used.
 */
export async function snapshotGaps(snapshotDir: string): Promise<string[]> {
  const has = (file: string) => isFile(join(snapshotDir, file));
  const gaps: string[] = [];
  if (!(await has('config.json'))) gaps.push('config.json');
  const weights =
    (await has('model.safetensors')) ||
    ((await has('model.safetensors.index.json')) &&
      (await shardsPresent(snapshotDir, 'model.safetensors.index.json'))) ||
    (await has('pytorch_model.bin')) ||
    ((await has('pytorch_model.bin.index.json')) &&
      (await shardsPresent(snapshotDir, 'pytorch_model.bin.index.json')));
  if (!weights) gaps.push('weights');
  const tokenizer =
    ((await has('source.spm')) && (await has('target.spm')) && (await has('vocab.json'))) ||
    (await has('tokenizer.json')) ||
    (await has('sentencepiece.bpe.model'));
  if (!tokenizer) gaps.push('tokenizer');
  return gaps;
}

/**
 * Points `snapshots/{commit}/{file}` at `blobs/{etag}` with a relative symlink, as `huggingface_hub` does (so the
 * cache survives being moved); where symlinks are refused (Windows without developer mode) the blob is copied.
 */
export async function linkSnapshotFile(
  repoDir: string,
  commit: string,
  file: string,
  etag: string,
): Promise<void> {
  const pointer = join(repoDir, 'snapshots', commit, file);
  const blob = join(repoDir, 'blobs', etag);
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer);
  }
}
