/** The files of a folder written by `el-translate export`, all of which the Translate view loads. */
export const EXPORTED_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/encoder_model.onnx',
  'onnx/decoder_model_merged.onnx',
] as const;

/** How to make and serve a folder the view can load (shown with every failure to load one). */
export const EXPORT_HINT =
  'Export one with `pnpm el-translate export --model MODEL_DIR --out runs/web-model`, then serve it with ' +
  '`pnpm playground -- --model runs/web-model` (or pick the exported folder from the disk).';

/** What was wrong with one expected file: its path in the folder and what the request gave. */
export interface FileProblem {
  file: string;
  problem: string;
}

/**
 * The message shown when a model folder cannot be loaded: where it was looked for, what was wrong with each
 * expected file, what a loadable folder holds, and the commands that make and serve one.
 *
 * @param where The folder's absolute URL (or "the picked folder NAME").
 * @param problems One entry per expected file that is missing or wrong.
 */
export function modelFolderMessage(where: string, problems: readonly FileProblem[]): string {
  const missing = new Set(problems.map((p) => p.file));
  const lines = [
    missing.has('config.json') && missing.size === EXPORTED_FILES.length
      ? `No exported model at ${where}.`
      : `The folder at ${where} is not a complete transformers.js export.`,
    ...problems.map(({ file, problem }) => `• ${file}: ${problem}`),
  ];
  if (!missing.has('config.json') && EXPORTED_FILES.some((f) => f.startsWith('onnx/') && missing.has(f))) {
    lines.push(
      'It has a config.json but no ONNX graphs: a trained model folder (model.safetensors) must be exported first.',
    );
  }
  lines.push(
    `Expected an exported folder holding ${EXPORTED_FILES.slice(0, -1).join(', ')} and ${EXPORTED_FILES.at(-1)}.`,
    EXPORT_HINT,
  );
  return lines.join('\n');
}

async function probe(fetcher: typeof fetch, url: string, file: string): Promise<string | undefined> {
  let response: Response;
  try {
    // The ONNX graphs can be large: ask for their headers only.
    response = await fetcher(url, { method: file.endsWith('.onnx') ? 'HEAD' : 'GET', cache: 'no-store' });
  } catch (error) {
    return `could not be fetched (${(error as Error).message})`;
  }
  if (!response.ok) return `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (!file.endsWith('.json')) return undefined;
  const text = await response.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const type = response.headers.get('content-type');
    return `is not JSON${type ? ` (${type.split(';')[0]})` : ''}: ${JSON.stringify(text.slice(0, 40))}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  if (file === 'config.json' && typeof (value as { model_type?: unknown }).model_type !== 'string') {
    return 'has no "model_type"';
  }
  return undefined;
}

/**
 * Fetches each file an exported folder must hold (JSON parsed, ONNX graphs by HEAD) and throws an `Error` with
 * {@link modelFolderMessage} when any is missing or wrong, before transformers.js reads them (it would fail with
 * "Cannot read properties of undefined (reading 'tokenizer_class')").
 *
 * @param folder The folder's absolute URL, ending in `/`.
 * @param options `fetch` (the one transformers.js reads through: it also answers picked files), `where` (how to
 *   name the folder in the message; default the URL).
 */
export async function checkModelFolder(
  folder: string,
  options: { fetch?: typeof fetch; where?: string } = {},
): Promise<void> {
  const fetcher = options.fetch ?? fetch;
  const results = await Promise.all(
    EXPORTED_FILES.map(async (file): Promise<FileProblem | undefined> => {
      const problem = await probe(fetcher, `${folder}${file}`, file);
      return problem === undefined ? undefined : { file, problem };
    }),
  );
  const problems = results.filter((r) => r !== undefined);
  if (problems.length > 0) throw new Error(modelFolderMessage(options.where ?? folder, problems));
}
