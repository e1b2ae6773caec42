// Everything the main entry has, and what only Node has: the file system, the wasm backend's files from the
// installed package, tfjs's threaded XNNPACK build under worker_threads.
export * from './index.js';
export { fileWriter, publishDirectory, temporaryName, writeFileAtomic } from './node/atomic.js';
export { initNodeBackend, type NodeBackendOptions } from './node/backend-node.js';
export { makeConfigFile } from './node/config-file.js';
export { dataFiles, detectFormat, readJsonFile, readParallelData, readTextFile } from './node/data-files.js';
export { exportBest, transformersJsLines } from './node/export-best.js';
export { NodeFileStore } from './node/node-file-store.js';
export { checkFolder, existingFolder, nodeFolder } from './node/node-folder.js';
