import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../translate/dist/cli.js', import.meta.url));

// A small generated English→German task: "The printer is broken." → "Der Drucker ist kaputt.", every noun with
// every adjective. Enough for a tiny model to learn some of it in a few seconds.
const NOUNS = [
  ['printer', 'Drucker'],
  ['computer', 'Computer'],
  ['network', 'Netzwerk'],
  ['keyboard', 'Tastatur'],
  ['screen', 'Bildschirm'],
  ['mouse', 'Maus'],
];
const ADJECTIVES = [
  ['broken', 'kaputt'],
  ['new', 'neu'],
  ['slow', 'langsam'],
  ['fast', 'schnell'],
  ['old', 'alt'],
];

export const SOURCE = 'The printer is broken.';
export const REFERENCE = 'Der Drucker ist kaputt.';

/**
 * Trains a tiny model a few steps with `el-translate train` (CEL) on the generated pairs and exports it with
 * `el-translate export` to `<dir>/models/en-de`: the folder the page loads. Returns that folder.
 */
export function makeExportedModel(dir: string): string {
  const pairs = NOUNS.flatMap(([en, de]) =>
    ADJECTIVES.map(([a, b]) => `The ${en} is ${a}.\tDer ${de} ist ${b}.\n`),
  );
  writeFileSync(join(dir, 'train.tsv'), pairs.join(''));
  writeFileSync(join(dir, 'valid.tsv'), pairs.slice(0, 5).join(''));
  const model = join(dir, 'trained');
  const out = join(dir, 'models', 'en-de');
  mkdirSync(join(dir, 'models'), { recursive: true });
  const run = (args: string[]) =>
    execFileSync('node', [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run([
    'train',
    ...['--train', join(dir, 'train.tsv'), '--valid', join(dir, 'valid.tsv'), '--src', 'en', '--tgt', 'de'],
    ...['--out', model, '--config', 'tiny', '--vocab-size', '100', '--loss', 'cel', '--seed', '1'],
    ...['--max-steps', '150', '--lr', '0.005', '--warmup', '10', '--eval-every', '150', '--quiet'],
  ]);
  run(['export', '--model', model, '--out', out, '--quiet']);
  return out;
}
