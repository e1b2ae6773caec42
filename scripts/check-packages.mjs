// The stranger's check: every published package is packed, installed alone from its tarball into a fresh npm project
// outside the workspace (registry + local tarballs only), and every README snippet marked for it is run and
// type-checked as written. The snippets are extracted from the READMEs, so the docs cannot drift.
//
//   node scripts/check-packages.mjs [--no-browser] [--keep]
//
// Markers (an HTML comment on the line before a fenced block):
//   <!-- check: install -->            an `npm i …` line; the snippets after it (same file) use that project
//   <!-- check: run -->                runs in Node (ESM) and type-checks under nodenext and bundler
//   <!-- check: typecheck (a: T, …) --> type-checks only, with `declare const a: T` for the names it leaves open
//   <!-- check: vitest -->             a test file, run with the project's vitest
//   <!-- check: bundle <name> -->      bundled with Vite into a page, loaded in Chromium; the page writes its result
//                                      into document.body, which must start with "wasm "
// Our packages are installed from their tarballs (and core, which npm does not have yet, beside them); everything
// else comes from the npm registry (~/.npm caches it). `require()` of every entry is checked too (require(esm)).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without Chromium the pages are skipped, loudly, except in CI (CI=true), where that is a failure.
const browser = !args.has('--no-browser') && (existsSync(chromium) || process.env.CI === 'true');
if (!args.has('--no-browser') && !browser) {
  console.log(`!! no Chromium at ${chromium}: the bundled pages are SKIPPED (CI=true makes this a failure)`);
}
const requireFromRoot = createRequire(join(root, 'package.json'));
const ts = requireFromRoot('typescript');
const tsc = join(dirname(requireFromRoot.resolve('typescript/package.json')), 'bin', 'tsc');
const started = performance.now();
const failures = [];
const skipped = [];
const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: 300_000, ...options });
  return {
    ok: result.status === 0,
    out: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    stdout: result.stdout ?? '',
  };
}

// A process whose output goes to a file (the event loop may be busy with a snippet meanwhile); resolves to it.
function runToFile(command, commandArgs, cwd, name) {
  const path = join(cwd, name);
  const fd = openSync(path, 'w');
  return new Promise((resolve) => {
    spawn(command, commandArgs, { cwd, stdio: ['ignore', fd, fd] }).on('close', () => {
      closeSync(fd);
      resolve(readFileSync(path, 'utf8'));
    });
  });
}

function fail(what, detail) {
  failures.push(what);
  console.log(`  ✗ ${what}\n${detail.trim().replace(/^/gm, '      ')}`);
}

// ---- 1. Pack every published package and look inside the tarballs.
const work = mkdtempSync(join(tmpdir(), 'el-packages-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const packages = {};
console.log(`packing into ${tarballs}`);
for (const folder of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', folder);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  const packed = run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir });
  const file = readdirSync(tarballs).find(
    (f) => f.startsWith(`${manifest.name.replace('@', '').replace('/', '-')}-`) && f.endsWith('.tgz'),
  );
  if (!packed.ok || !file) {
    fail(`pack ${manifest.name}`, packed.out);
    continue;
  }
  packages[manifest.name] = { tarball: join(tarballs, file), manifest };
  const files = execFileSync('tar', ['-tzf', join(tarballs, file)], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const shipped = files.map((f) => f.replace(/^package\//, ''));
  const unwanted = shipped.filter((f) =>
    /\.test(-d)?\.ts$|\.bench\.|test-utils|node-setup|browser-setup/.test(f),
  );
  const missing = ['LICENSE', 'README.md', 'package.json'].filter((f) => !shipped.includes(f));
  for (const field of ['repository', 'homepage', 'bugs', 'license', 'engines']) {
    if (!manifest[field]) missing.push(`package.json ${field}`);
  }
  if (unwanted.length > 0 || missing.length > 0) {
    fail(
      `${manifest.name} tarball`,
      `unwanted: ${unwanted.join(', ') || '—'}; missing: ${missing.join(', ') || '—'}`,
    );
  } else {
    console.log(`  ✓ ${file}: ${shipped.length} files, LICENSE, README, no tests`);
  }
}

// ---- 2. The marked snippets of every README, grouped by the install line they follow.
const readmes = [
  'README.md',
  ...Object.values(packages).map((p) =>
    relative(root, join(root, 'packages', p.manifest.name.split('/')[1], 'README.md')),
  ),
];
const projects = new Map(); // install line → { install, snippets[] }
for (const readme of readmes) {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  let install;
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- check: (\w+)(.*?) -->$/.exec(lines[i]);
    if (!marker) continue;
    const fence = /^```(\w+)$/.exec(lines[i + 1] ?? '');
    const end = lines.findIndex((line, j) => j > i + 1 && line === '```');
    if (!fence || end < 0) {
      fail(`${readme}:${i + 1}`, 'a check marker must be followed by a fenced code block');
      continue;
    }
    const code = lines.slice(i + 2, end).join('\n');
    const where = `${readme}:${i + 3}`;
    const [kind, rest] = [marker[1], marker[2].trim()];
    if (kind === 'install') {
      install = code.trim();
      if (!projects.has(install)) projects.set(install, { install, snippets: [] });
    } else if (!install) {
      fail(where, 'a snippet before any <!-- check: install --> line');
    } else {
      projects.get(install).snippets.push({ kind, rest, code, where });
    }
  }
}

// ---- 3. Per install line: a fresh npm project, the snippets run and type-checked.
const tsconfig = (moduleResolution) => ({
  compilerOptions: {
    target: 'es2022',
    module: moduleResolution === 'nodenext' ? 'nodenext' : 'esnext',
    moduleResolution,
    lib: ['es2022', 'dom'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
  include: ['*.ts'],
});

function installArgs(line) {
  const words = line.split(/\s+/);
  if (words[0] !== 'npm' || !['i', 'install'].includes(words[1]))
    throw new Error(`not an npm install line: ${line}`);
  const specs = words.slice(2).map((word) => packages[word]?.tarball ?? word);
  // Our packages are not on npm yet: the tarballs of the ones a named package depends on (core; the adapters the
  // translate library builds on), transitively, go beside it (npm then satisfies their `^` ranges with them).
  const pending = words.filter((word) => packages[word]);
  const seen = new Set(pending);
  while (pending.length > 0) {
    const { manifest } = packages[pending.pop()];
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      if (!packages[dependency] || seen.has(dependency)) continue;
      seen.add(dependency);
      pending.push(dependency);
      specs.push(packages[dependency].tarball);
    }
  }
  return specs;
}

let count = 0;
for (const [index, project] of [...projects.values()].entries()) {
  const dir = join(work, `project-${index}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `check-${index}`, private: true, type: 'module' })}\n`,
  );
  const installStart = performance.now();
  const installed = run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--loglevel=error', ...installArgs(project.install)],
    {
      cwd: dir,
    },
  );
  console.log(`\n${project.install}  (${seconds(installStart)})`);
  if (!installed.ok) {
    fail(`install: ${project.install}`, installed.out);
    continue;
  }

  // require(esm): every entry of the packages this project installs by name loads from CommonJS too (not those
  // installed beside them as dependencies, whose optional peers the project may lack).
  const named = new Set(project.install.split(/\s+/));
  const entries = Object.entries(packages)
    .filter(([name]) => named.has(name) && existsSync(join(dir, 'node_modules', name)))
    .flatMap(([name, { manifest }]) =>
      Object.keys(manifest.exports ?? { '.': '' })
        .filter((key) => key !== './package.json')
        .map((key) => (key === '.' ? name : `${name}/${key.slice(2)}`)),
    );
  const script = `for (const e of ${JSON.stringify(entries)}) { const m = require(e); if (Object.keys(m).length === 0) throw new Error(e + ': no exports'); }`;
  const cjs = run('node', ['-e', script], { cwd: dir });
  if (cjs.ok) console.log(`  ✓ require() ${entries.join(', ')}`);
  else fail(`require() in ${project.install}`, cjs.out);

  const files = [];
  for (const [n, snippet] of project.snippets.entries()) {
    const base = snippet.kind === 'vitest' ? `snippet-${n}.test` : `snippet-${n}`;
    let code = snippet.code;
    if (snippet.kind === 'typecheck' && snippet.rest) {
      const declared = /^\((.*)\)$/.exec(snippet.rest)?.[1] ?? '';
      const names = declared.split(/,\s*(?=\w+:)/).map((d) => `declare const ${d.trim()};`);
      code = `${code}\n${names.join('\n')}\nexport {};\n`;
    }
    writeFileSync(join(dir, `${base}.ts`), code);
    files.push({ file: `${base}.ts`, snippet });
  }
  if (project.snippets.some((s) => s.kind === 'bundle')) {
    writeFileSync(
      join(dir, 'vite-env.d.ts'),
      "declare module '*?url' {\n  const url: string;\n  export default url;\n}\n",
    );
  }

  // Type-check every snippet of the project under both resolutions; our own .d.ts files are checked
  // (skipLibCheck false). Errors inside other packages' .d.ts are counted but are theirs, not ours.
  // The two type-checks start now and run beside the snippets (each in its own process, output to a file).
  const resolutions = ['nodenext', 'bundler'];
  const typesReady = Promise.all(
    resolutions.map((resolution) => {
      writeFileSync(join(dir, `tsconfig.${resolution}.json`), JSON.stringify(tsconfig(resolution), null, 2));
      return runToFile(
        'node',
        [tsc, '-p', `tsconfig.${resolution}.json`, '--pretty', 'false'],
        dir,
        `tsc-${resolution}.log`,
      );
    }),
  );

  const results = [];
  for (const { file, snippet } of files) {
    count++;
    results.push({ file, snippet, ...(await runSnippet(dir, file, snippet)) });
  }

  const typeErrors = new Map(files.map(({ file }) => [file, []]));
  const foreign = new Set();
  for (const [r, out] of (await typesReady).entries()) {
    const resolution = resolutions[r];
    for (const line of out.split('\n')) {
      const match = /^(.+?)\(\d+,\d+\): error (TS\d+: .*)$/.exec(line);
      if (!match) continue;
      if (typeErrors.has(match[1])) typeErrors.get(match[1]).push(`${resolution}: ${line}`);
      else if (match[1].includes('node_modules/@encouraging-loss/'))
        fail(`our types under ${resolution}`, line);
      else
        foreign.add(
          match[1]
            .replace(/^.*node_modules\//, '')
            .split('/')
            .slice(0, 2)
            .join('/'),
        );
    }
  }
  if (foreign.size > 0) {
    console.log(`  (type errors inside other packages' .d.ts, not ours: ${[...foreign].join(', ')})`);
  }
  for (const { file, snippet, ok, line, detail } of results) {
    if (typeErrors.get(file).length > 0) fail(`${snippet.where} type-check`, typeErrors.get(file).join('\n'));
    else if (ok) console.log(`  ${line}`);
    else fail(`${snippet.where} ${snippet.kind}`, detail);
  }
}

/** Runs one snippet as its kind says; `line` is what to print once its type-check passed too. */
async function runSnippet(dir, file, snippet) {
  const t0 = performance.now();
  const checked = 'type-checks (nodenext, bundler)';
  if (snippet.kind === 'typecheck') return { ok: true, line: `✓ ${snippet.where} ${checked}` };
  if (snippet.kind === 'bundle') {
    if (!browser) {
      skipped.push(snippet.where);
      const why = args.has('--no-browser') ? '--no-browser' : 'no Chromium';
      return { ok: true, line: `!! ${snippet.where} ${checked}; bundled page SKIPPED (${why})` };
    }
    const page = await bundleAndLoad(dir, file);
    return page.ok
      ? {
          ok: true,
          line: `✓ ${snippet.where} ${checked}, bundled with Vite, in Chromium: "${page.text}" (${seconds(t0)})`,
        }
      : { ok: false, detail: page.detail };
  }
  if (snippet.kind === 'vitest') {
    const tested = run(join(dir, 'node_modules', '.bin', 'vitest'), ['run', file, '--reporter=dot'], {
      cwd: dir,
    });
    const summary = /Tests\s+(.*)/.exec(stripVTControlCharacters(tested.out))?.[1]?.trim() ?? '';
    return tested.ok
      ? { ok: true, line: `✓ ${snippet.where} ${checked}, vitest: ${summary} (${seconds(t0)})` }
      : { ok: false, detail: tested.out.slice(-3000) };
  }
  const js = ts.transpileModule(readFileSync(join(dir, file), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const mjs = file.replace(/\.ts$/, '.mjs');
  writeFileSync(join(dir, mjs), js);
  const ran = run('node', [mjs], { cwd: dir, timeout: 120_000 });
  const first = ran.stdout.trim().split('\n')[0]?.slice(0, 90) ?? '';
  return ran.ok
    ? { ok: true, line: `✓ ${snippet.where} runs (${seconds(t0)}), ${checked}: ${first}` }
    : { ok: false, detail: ran.out.slice(-3000) };
}

// ---- 4. Browser: the bundle snippet becomes a Vite-built page, served statically and loaded in Chromium.
async function bundleAndLoad(dir, file) {
  const page = join(dir, `page-${file.replace(/\.ts$/, '')}`);
  mkdirSync(page, { recursive: true });
  writeFileSync(
    join(page, 'index.html'),
    `<!doctype html><html><body>loading<script type="module" src="../${file}"></script></body></html>\n`,
  );
  const vite = join(dirname(requireFromRoot.resolve('vite/package.json')), 'bin', 'vite.js');
  const built = run('node', [vite, 'build', page, '--outDir', join(page, 'dist'), '--logLevel', 'warn'], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (!built.ok) return { ok: false, detail: built.out };
  if (!existsSync(chromium)) return { ok: false, detail: `no Chromium at ${chromium}` };
  const types = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.wasm': 'application/wasm',
    '.mjs': 'text/javascript',
  };
  const server = createServer((request, response) => {
    const path = join(page, 'dist', decodeURIComponent(new URL(request.url, 'http://x').pathname));
    const target = existsSync(path) && !path.endsWith('/') ? path : join(page, 'dist', 'index.html');
    response.writeHead(200, { 'content-type': types[extname(target)] ?? 'application/octet-stream' });
    response.end(readFileSync(target));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // playwright-core drives Debian's Chromium; nothing downloads a browser.
  const { chromium: launcher } = createRequire(join(root, 'packages', 'tfjs', 'package.json'))('playwright');
  // The flags of vitest.chromium.ts (the browser test projects' launch options).
  const instance = await launcher.launch({
    executablePath: chromium,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const tab = await instance.newPage();
    const errors = [];
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab
      .waitForFunction(() => document.body.textContent !== 'loading', undefined, { timeout: 120_000 })
      .catch(() => {});
    const text = (await tab.textContent('body'))?.trim() ?? '';
    return text.startsWith('wasm ') && errors.length === 0
      ? { ok: true, text }
      : { ok: false, detail: `body: ${text}\n${errors.join('\n')}` };
  } finally {
    await instance.close();
    server.close();
  }
}

if (!args.has('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`\nkept ${work}`);
console.log(
  `\n${Object.keys(packages).length} packages packed, ${count} snippets from ${readmes.length} READMEs in ${projects.size} fresh npm projects: ${
    failures.length === 0 ? 'all passed' : `${failures.length} failed`
  }${skipped.length > 0 ? `, ${skipped.length} page(s) SKIPPED` : ''} (${seconds(started)})`,
);
process.exit(failures.length === 0 ? 0 : 1);
