export {
  type DirectoryHandleLike,
  DirectoryHandleStore,
  type FileHandleLike,
  type WritableLike,
} from './store/directory-handle-store.js';
export { HttpStore, type HttpStoreOptions } from './store/http-store.js';
export { MemoryStore } from './store/memory-store.js';
export { type FileData, type ModelStore, readText, type StoreCallOptions } from './store/model-store.js';
