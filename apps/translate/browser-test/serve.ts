// The repository's one static server (scripts/static-server.mjs, tested there): 127.0.0.1, GET/HEAD, no listings,
// no path traversal. The playground serves its site with the same module.
export { serveStatic } from '../../../scripts/static-server.mjs';
