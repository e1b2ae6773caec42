export {
  cacheApiBlobStore,
  directoryBlobStore,
  type FetchHubModelOptions,
  fetchHubModel,
  type HubBlobStore,
  type HubModelFiles,
  memoryBlobStore,
} from './browser.js';
export { hubCacheDir, repoFolderName } from './cache.js';
export { HubError, type HubErrorReason } from './errors.js';
export type { HubDownloadProgress } from './http.js';
export { DEFAULT_HUB_ENDPOINT, type HubModelId, parseHubId } from './hub-id.js';
export {
  type ResolvedModel,
  type ResolveModelOptions,
  resolveModel,
} from './resolve-model.js';
export { HUB_CONFIG_FILES, HUB_TOKENIZER_FILES, HUB_WEIGHT_FILES, selectModelFiles } from './select-files.js';
