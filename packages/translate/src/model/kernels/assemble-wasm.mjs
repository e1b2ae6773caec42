// What every WebAssembly generator of the app's kernels shares (build-wasm.mjs, decode-build-wasm.mjs): each module
// is assembled twice, importing an unshared memory (tfjs-backend-wasm's single-threaded builds) and a shared one (its
// threaded build), written as base64 into a checked-in `<name>-bytes.ts`; `--check` fails if a checked-in file is
// stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

/** The memory imports of the two variants; module texts are written with `unshared`'s. */
export const MEMORY_IMPORTS = {
  unshared: '(import "env" "memory" (memory 1))',
  shared: '(import "env" "memory" (memory 1 65536 shared))',
};

const wabt = await wabtInit();

/** Both variants of a module text (written with the unshared import) as base64, each validated. */
export function assembleVariants(name, source) {
  return Object.fromEntries(
    Object.entries(MEMORY_IMPORTS).map(([variant, memoryImport]) => {
      const module = wabt.parseWat(
        `${name}-${variant}.wat`,
        source.replace(MEMORY_IMPORTS.unshared, memoryImport),
        {
          simd: true,
          threads: true,
          bulk_memory: true,
        },
      );
      const binary = module.toBinary({}).buffer;
      // wabt's validator refuses shared memories whatever the features; V8 validates both.
      if (variant === 'unshared') module.validate();
      if (!WebAssembly.validate(binary)) throw new Error(`invalid ${variant}-memory ${name} module`);
      return [variant, Buffer.from(binary).toString('base64')];
    }),
  );
}

/**
 * Both variants of the checked-in `<name>.wat` beside this file, as base64: what `<name>-bytes.ts` must hold (its
 * `<name>-bytes.test.ts` compares them). For the generated modules the `.wat` is the generator's output, itself
 * checked by the generator's `--check`.
 */
export function assembleWatFile(name) {
  return assembleVariants(name, readFileSync(new URL(`${name}.wat`, import.meta.url), 'utf8'));
}

/** The text of a `<name>-bytes.ts`: `<CONSTANT>_UNSHARED` and `<CONSTANT>_SHARED`, under `header`. */
export function bytesFile({ header, what, constant, encoded }) {
  return `${header}
/** ${what} importing an unshared memory (tfjs-backend-wasm's single-threaded builds), base64. */
export const ${constant}_UNSHARED =
  '${encoded.unshared}';
/** The same module importing a shared memory (tfjs-backend-wasm's threaded build), base64. */
export const ${constant}_SHARED =
  '${encoded.shared}';
`;
}

/** Writes `[url, text]` targets, or with `--check` exits 1 naming the stale ones (`script` is what to run). */
export function writeOrCheck(targets, script) {
  if (!process.argv.includes('--check')) {
    for (const [file, content] of targets) writeFileSync(file, content);
    return;
  }
  const stale = targets.filter(([file, content]) => {
    try {
      return readFileSync(file, 'utf8') !== content;
    } catch {
      return true;
    }
  });
  if (stale.length) {
    console.error(
      `stale: ${stale.map(([f]) => f.pathname).join(', ')}; run node src/model/kernels/${script}`,
    );
    process.exit(1);
  }
}
