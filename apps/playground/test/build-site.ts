import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * globalSetup of the browser test: builds the site (`vite build` → dist/) and el-translate (its CLI makes the
 * Translate view's model), with the packages they use, through turbo (cached when nothing changed).
 */
export default function buildSite(): void {
  execFileSync(
    'pnpm',
    [
      'exec',
      'turbo',
      'run',
      'build',
      '--filter=@encouraging-loss/playground',
      '--filter=@encouraging-loss/el-translate',
      '--output-logs=errors-only',
    ],
    { cwd: fileURLToPath(new URL('../../..', import.meta.url)), stdio: ['ignore', 'inherit', 'inherit'] },
  );
}
