// The README's two Fine-tune screenshots, on a model that translates: the `pnpm start` demo's base model (trained on
// the demo's general-domain data) fine-tuned in the page on the demo's IT-domain pairs with CEL, as the demo's
// `ft-cel` run does in the CLI (lr 0.0015, warmup 15, 1,200-token batches, 150 steps). Needs `pnpm start` (runs/demo)
// and a built site; writes runs/playground/finetune-running.png (at step 70–89) and finetune.png, then
// scripts/update-screenshots.sh copies them into screenshots/. Prints the run's result JSON.
//
//   node scripts/finetune-screenshots.mjs
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from './serve.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const demo = join(root, 'runs', 'demo');
const out = join(root, 'runs', 'playground');
const data = mkdtempSync(join(tmpdir(), 'el-finetune-shots-'));
// The demo's IT-domain pairs: JSON Lines → TSV (the view takes TSV); the first 40 valid pairs.
const train = readFileSync(join(demo, 'data', 'it.train.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line).translation)
  .map((t) => `${t.en}\t${t.de}\n`)
  .join('');
writeFileSync(join(data, 'train.tsv'), train);
const valid = readFileSync(join(demo, 'data', 'it.valid.tsv'), 'utf8')
  .split('\n')
  .slice(0, 40);
writeFileSync(join(data, 'valid.tsv'), `${valid.join('\n')}\n`);
mkdirSync(out, { recursive: true });

const server = await serveStatic(
  { '/': join(root, 'apps', 'playground', 'dist'), '/demo/': join(demo, 'base'), '/data/': data },
  { headers: CROSS_ORIGIN_ISOLATION },
);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  const link =
    '#finetune?model=demo/&train=data/train.tsv&valid=data/valid.tsv&loss=cel&logEnd=0.5&labelSmoothing=0.1' +
    '&steps=150&seed=1&lr=0.0015&warmup=15&maxTokens=1200&evalEvery=25&autostart=1';
  await page.goto(new URL(link, server.url).href);
  await page.waitForFunction(
    () =>
      /^step (7\d|8\d)\//.test(document.querySelector('[data-testid=finetune-figures]')?.textContent ?? ''),
    undefined,
    { timeout: 900_000 },
  );
  await page.locator('#view-finetune').screenshot({ path: join(out, 'finetune-running.png') });
  const result = page.locator('[data-testid=finetune-result]');
  await result.waitFor({ state: 'visible', timeout: 900_000 });
  await page.locator('#view-finetune').screenshot({ path: join(out, 'finetune.png') });
  console.log(await result.textContent());
} finally {
  await browser.close();
  await new Promise((resolve) => server.server.close(resolve));
  rmSync(data, { recursive: true, force: true });
}
