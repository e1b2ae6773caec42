import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/** globalSetup of the browser test: the test runs against the site as `vite build` writes it (dist/). */
export default async function buildSite(): Promise<void> {
  await build({ root: fileURLToPath(new URL('..', import.meta.url)), logLevel: 'warn' });
}
