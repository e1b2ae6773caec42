import { EncouragingLossError } from '@encouraging-loss/core';

/**
 * Why a Hub model could not be resolved:
 * - `REPO_NOT_FOUND`: no such repository (or a private one without a token); 404/401 `X-Error-Code: RepoNotFound`.
 * - `GATED`: a gated repository without a token (401) or with a token that has no access (403); `GatedRepo`.
 * - `UNAUTHORIZED`: any other 401/403.
 * - `REVISION_NOT_FOUND`: no such branch, tag or commit; `RevisionNotFound`.
 * - `ENTRY_NOT_FOUND`: a file the listing named is missing; `EntryNotFound`.
 * - `OFFLINE_NOT_CACHED`: `HF_HUB_OFFLINE` is set and the revision is not in the cache.
 * - `CHECKSUM_MISMATCH`: downloaded bytes do not hash to the file's ETag (sha256 for LFS, git sha1 otherwise).
 * - `UNSUPPORTED_REPO`: the repository has no `config.json` or no weights in a format this tool reads.
 * - `NETWORK`: the endpoint could not be reached.
 * - `HTTP`: any other unexpected answer.
 */
export type HubErrorReason =
  | 'REPO_NOT_FOUND'
  | 'GATED'
  | 'UNAUTHORIZED'
  | 'REVISION_NOT_FOUND'
  | 'ENTRY_NOT_FOUND'
  | 'OFFLINE_NOT_CACHED'
  | 'CHECKSUM_MISMATCH'
  | 'UNSUPPORTED_REPO'
  | 'NETWORK'
  | 'HTTP';

/**
 * An {@link EncouragingLossError} from resolving a Hub model. `code` is `INVALID_DATA` when the bytes or the
 * repository's content are at fault (`CHECKSUM_MISMATCH`, `UNSUPPORTED_REPO`) and `INVALID_OPTION` otherwise (the
 * id, revision or environment given cannot be resolved); `reason` says which case, `repo` which repository. The
 * message names the repository and the cause.
 */
export class HubError extends EncouragingLossError {
  readonly reason: HubErrorReason;
  readonly repo: string;

  constructor(reason: HubErrorReason, repo: string, message: string) {
    super(
      reason === 'CHECKSUM_MISMATCH' || reason === 'UNSUPPORTED_REPO' ? 'INVALID_DATA' : 'INVALID_OPTION',
      message,
    );
    this.reason = reason;
    this.repo = repo;
  }
}
