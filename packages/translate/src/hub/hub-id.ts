/** The Hub's address when the caller names no other (`endpoint`, el-translate's `HF_ENDPOINT`). */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** A parsed Hub model id. */
export interface HubModelId {
  repo: string;
  revision: string;
}

const NAME = /^[A-Za-z0-9][\w.-]{0,95}$/;

/**
 * Parses `ORG/NAME[@revision]` (the Hub's naming rules: letters, digits, `-`, `_`, `.`, no `--` or `..`, at most 96
 * characters per part). Returns `undefined` for anything else. The revision (a branch, tag, commit or `refs/pr/N`)
 * may contain `/` but no `..`, empty, or absolute segments, since it becomes a path under `refs/`.
 */
export function parseHubId(spec: string): HubModelId | undefined {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? 'main' : spec.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2) return undefined;
  if (!parts.every((part) => NAME.test(part) && !part.includes('--') && !part.includes('..')))
    return undefined;
  const segments = revision.split('/');
  if (!revision || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\')))
    return undefined;
  return { repo, revision };
}

const COMMIT = /^[0-9a-f]{40}$/;

/** Whether `revision` is a full commit sha (40 hex digits), which needs no ref to resolve. */
export function isCommitSha(revision: string): boolean {
  return COMMIT.test(revision);
}

/** The cache folder of a model repository: `models--{org}--{name}`. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}
