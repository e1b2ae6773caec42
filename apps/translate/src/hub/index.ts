// el-translate's Node side of the Hub client: the cache shared with Python. The platform-neutral parts (the API
// calls, errors, file selection, the page's fetchHubModel and blob stores) are the library's.
export { hubCacheDir } from './cache.js';
export {
  type ResolvedModel,
  type ResolveModelOptions,
  resolveModel,
} from './resolve-model.js';
