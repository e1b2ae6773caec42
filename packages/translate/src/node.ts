export { NodeFileStore } from './store/node-file-store.js';
