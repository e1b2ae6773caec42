// A Hugging Face Hub client on `fetch` and Web Crypto alone: pages and workers fetch a model by its Hub id into a
// blob store of their own (Cache API, OPFS); el-translate builds its Node cache (shared with Python) from the same
// parts.
export { type HubTreeFile, hubRevisionInfo, hubTreeFiles } from './api.js';
export { cacheApiBlobStore, directoryBlobStore, type HubBlobStore, memoryBlobStore } from './blob-store.js';
export { HubError, type HubErrorReason } from './errors.js';
export {
  type FetchHubModelOptions,
  fetchHubFolder,
  fetchHubModel,
  type HubModelFiles,
  type HubModelFolder,
} from './fetch-hub-model.js';
export {
  DEFAULT_HUB_HINTS,
  type HubContext,
  type HubDownloadProgress,
  type HubHints,
  hubAuthHeaders,
  hubErrorFor,
  hubFetch,
  hubResolveUrl,
  normalizeHubEtag,
} from './http.js';
export { DEFAULT_HUB_ENDPOINT, type HubModelId, isCommitSha, parseHubId, repoFolderName } from './hub-id.js';
export {
  HUB_CONFIG_FILES,
  HUB_TOKENIZER_FILES,
  HUB_WEIGHT_FILES,
  type ModelFileSelection,
  selectModelFiles,
  shardsOfIndex,
} from './select-files.js';
