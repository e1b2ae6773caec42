import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

/*
 * The CLI walked over the mistakes a person makes by accident. Each must end in a typed error (`[CODE] message`
 * naming the flag or file), exit status 1, no stack trace, and no input file changed. Run from a scratch folder
 * with relative paths, as a user would.
 */
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'el-mistakes-'));
const root = process.getuid?.() === 0;

function cli(args: string[], input = '') {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', input });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** SHA-256 of every file under `dir`, by relative path. */
function hashes(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        // An unreadable fixture is hashed by its mode instead.
        let digest: string;
        try {
          digest = createHash('sha256').update(readFileSync(path)).digest('hex');
        } catch {
          digest = `mode ${statSync(path).mode}`;
        }
        out.set(relative(folder, path), digest);
      }
    }
  };
  walk(folder);
  return out;
}

beforeAll(() => {
  cpSync(FIXTURE, join(dir, 'model'), { recursive: true });
  const en = readFileSync(join(FIXTURE, 'test-sentences.en'), 'utf8').trim().split('\n');
  const de = readFileSync(join(FIXTURE, 'test-sentences.de'), 'utf8').trim().split('\n');
  writeFileSync(
    join(dir, 'pairs.tsv'),
    en
      .slice(0, 12)
      .map((s, i) => `${s}\t${de[i]}\n`)
      .join(''),
  );
  writeFileSync(join(dir, 'empty.tsv'), '');
  writeFileSync(join(dir, 'bad-lines.tsv'), 'no tab here\nnor here\n');
  writeFileSync(join(dir, 'binary.tsv'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0xff, 0x10]));
  writeFileSync(join(dir, 'latin1.tsv'), Buffer.from('Stra\xdfe\tstreet\n', 'latin1'));
  writeFileSync(join(dir, 'sentences.txt'), 'The printer is broken.\n');
  writeFileSync(
    join(dir, 'data.jsonl'),
    '{"translation": {"en": "a", "de": "b"}}\n{"translation": {"en": x}}\n',
  );
  writeFileSync(join(dir, 'good.jsonl'), '{"translation": {"en": "a", "de": "b"}}\n');
  writeFileSync(join(dir, 'config-bad.json'), '{\n  "d_model": 32,\n  "encoder_layers": 1,,\n}\n');
  writeFileSync(join(dir, 'unreadable.tsv'), 'a\tb\n');
  chmodSync(join(dir, 'unreadable.tsv'), 0o000);
  mkdirSync(join(dir, 'folder.tsv'));
  cpSync(FIXTURE, join(dir, 'bad-json-model'), { recursive: true });
  writeFileSync(
    join(dir, 'bad-json-model', 'config.json'),
    '{\n  "model_type": "marian"\n  "d_model": 32\n}\n',
  );
  cpSync(FIXTURE, join(dir, 'bert-model'), { recursive: true });
  const config = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'bert-model', 'config.json'), JSON.stringify({ ...config, model_type: 'bert' }));
  mkdirSync(join(dir, 'foreign'));
  writeFileSync(join(dir, 'foreign', 'notes.txt'), 'my notes\n');
});

const TRAIN = ['train', '--config', 'tiny', '--vocab-size', '120', '--max-steps', '1', '--quiet'];

/** [what, arguments, code, message pattern, folders that must not exist afterwards] */
const MISTAKES: [string, string[], string, RegExp, string[]?][] = [
  ['unknown command', ['trian'], 'INVALID_OPTION', /Unknown command trian/],
  ['wrong flag', ['eval', '--modle', 'model'], 'INVALID_OPTION', /Unknown option '--modle'/],
  ['flag without its value', ['eval', '--model'], 'INVALID_OPTION', /--model/],
  [
    'bad number',
    [...TRAIN, '--train', 'pairs.tsv', '--out', 'o1', '--lr', 'fast'],
    'INVALID_OPTION',
    /--lr must be a number, got fast/,
    ['o1'],
  ],
  [
    'missing data file',
    ['eval', '--model', 'model', '--data', 'nothere.tsv'],
    'INVALID_DATA',
    /Data file nothere\.tsv does not exist/,
  ],
  [
    'missing train file',
    [...TRAIN, '--train', 'nothere.tsv', '--out', 'o2'],
    'INVALID_DATA',
    /nothere\.tsv does not exist/,
    ['o2'],
  ],
  [
    'empty eval set',
    ['eval', '--model', 'model', '--data', 'empty.tsv'],
    'INVALID_DATA',
    /empty\.tsv has no sentence pairs/,
  ],
  [
    'empty score set',
    ['score', '--model', 'model', '--data', 'empty.tsv'],
    'INVALID_DATA',
    /empty\.tsv has no sentence pairs/,
  ],
  [
    'all lines bad, skipped',
    ['score', '--model', 'model', '--data', 'bad-lines.tsv', '--skip-bad-lines'],
    'INVALID_DATA',
    /bad-lines\.tsv has no usable sentence pairs: all 2 lines were malformed/,
  ],
  [
    'empty training set',
    [...TRAIN, '--train', 'empty.tsv', '--out', 'o3'],
    'INVALID_DATA',
    /empty\.tsv has no sentence pairs/,
    ['o3'],
  ],
  [
    'binary data file',
    ['eval', '--model', 'model', '--data', 'binary.tsv'],
    'INVALID_DATA',
    /binary\.tsv is not text: NUL byte at offset 4/,
  ],
  [
    'not UTF-8',
    ['eval', '--model', 'model', '--data', 'latin1.tsv'],
    'INVALID_DATA',
    /latin1\.tsv is not UTF-8 text/,
  ],
  [
    'folder where a data file is expected',
    ['eval', '--model', 'model', '--data', 'folder.tsv'],
    'INVALID_DATA',
    /folder\.tsv is a folder; expected a file/,
  ],
  [
    'file where a model folder is expected',
    ['eval', '--model', 'pairs.tsv', '--data', 'pairs.tsv'],
    'INVALID_DATA',
    /Model folder pairs\.tsv is a file; expected a folder/,
  ],
  [
    'missing model folder',
    ['translate', '--model', 'nomodel'],
    'INVALID_DATA',
    /Model folder nomodel does not exist/,
  ],
  [
    'missing --init folder',
    [...TRAIN, '--train', 'pairs.tsv', '--init', 'nomodel', '--out', 'o4'],
    'INVALID_DATA',
    /--init folder nomodel does not exist/,
    ['o4'],
  ],
  [
    '--out is a file (train)',
    [...TRAIN, '--train', 'pairs.tsv', '--out', 'pairs.tsv'],
    'INVALID_OPTION',
    /--out pairs\.tsv is a file; expected a folder/,
  ],
  [
    '--out is --model (export)',
    ['export', '--model', 'model', '--out', 'model/'],
    'INVALID_OPTION',
    /--out model\/ is --model model/,
  ],
  [
    '--out is a file (export)',
    ['export', '--model', 'model', '--out', 'sentences.txt'],
    'INVALID_OPTION',
    /--out sentences\.txt is a file/,
  ],
  [
    '--out is --init',
    [...TRAIN, '--train', 'pairs.tsv', '--init', 'model', '--out', 'model'],
    'INVALID_OPTION',
    /--out model is --init model/,
  ],
  [
    '--out inside --init',
    [...TRAIN, '--train', 'pairs.tsv', '--init', 'model', '--out', 'model/ft'],
    'INVALID_OPTION',
    /--out model\/ft is inside --init model/,
    ['model/ft'],
  ],
  [
    '--out contains --init',
    [...TRAIN, '--train', 'pairs.tsv', '--init', 'model', '--out', '.'],
    'INVALID_OPTION',
    /--out \. contains --init model/,
  ],
  [
    '--out a folder of other files',
    [...TRAIN, '--train', 'pairs.tsv', '--out', 'foreign'],
    'INVALID_OPTION',
    /--out foreign is not empty and is not an el-translate run folder.*--overwrite/,
  ],
  [
    'bad JSON config, line:column',
    ['eval', '--model', 'bad-json-model', '--data', 'pairs.tsv'],
    'INVALID_DATA',
    /bad-json-model\/config\.json:3:3: not valid JSON/,
  ],
  [
    'bad --config JSON, line:column',
    [...TRAIN, '--train', 'pairs.tsv', '--out', 'o5', '--config', 'config-bad.json'],
    'INVALID_DATA',
    /config-bad\.json:3:23: not valid JSON/,
    ['o5'],
  ],
  [
    'bad JSON Lines record',
    ['eval', '--model', 'model', '--data', 'data.jsonl'],
    'INVALID_DATA',
    /data\.jsonl:2: column 24: invalid JSON/,
  ],
  [
    'unknown model type',
    ['eval', '--model', 'bert-model', '--data', 'pairs.tsv'],
    'INVALID_DATA',
    /bert-model\/config\.json: model_type "bert" is not supported; supported: marian, m2m_100/,
  ],
  [
    'language code not in the data',
    ['eval', '--model', 'model', '--data', 'good.jsonl', '--src', 'fr'],
    'INVALID_DATA',
    /good\.jsonl:1: expected string fields translation\.fr and translation\.de/,
  ],
  [
    'translate: missing input',
    ['translate', '--model', 'model', '--input', 'nothere.txt'],
    'INVALID_DATA',
    /Input file nothere\.txt does not exist/,
  ],
  [
    'translate: a TSV as input',
    ['translate', '--model', 'model', '--input', 'pairs.tsv'],
    'INVALID_DATA',
    /pairs\.tsv:1: a TAB in the line.*cut -f1/,
  ],
  [
    'translate: JSON Lines as input',
    ['translate', '--model', 'model', '--input', 'good.jsonl'],
    'INVALID_DATA',
    /good\.jsonl is JSON/,
  ],
  [
    'translate: a folder as input',
    ['translate', '--model', 'model', '--input', 'folder.tsv'],
    'INVALID_DATA',
    /Input file folder\.tsv is a folder/,
  ],
  [
    'translate: unreadable input',
    ['translate', '--model', 'model', '--input', '/proc/self/mem'],
    'INVALID_DATA',
    /\/proc\/self\/mem cannot be read: input\/output error \(EIO\)/,
  ],
];
if (!root) {
  // Root reads any file whatever its mode: only another user sees EACCES.
  MISTAKES.push([
    'unreadable data file',
    ['eval', '--model', 'model', '--data', 'unreadable.tsv'],
    'INVALID_DATA',
    /unreadable\.tsv cannot be read: permission denied \(EACCES\)/,
  ]);
}

describe('el-translate on a table of mistakes', () => {
  test.each(MISTAKES)('%s', (_, args, code, message, absent = []) => {
    const before = hashes(dir);
    const { status, stdout, stderr } = cli(args);
    expect(status, stderr).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^el-translate: \\[${code}\\] `, 'm'));
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
    for (const folder of absent) expect(existsSync(join(dir, folder)), `${folder} left behind`).toBe(false);
    // Nothing the command read (or anything else in the folder) changed, appeared or disappeared.
    expect(hashes(dir)).toEqual(before);
  });
});
