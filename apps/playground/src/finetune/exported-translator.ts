/**
 * The fine-tuned model's transformers.js export, loaded from the page's memory: the check that what the user
 * downloads is what transformers.js runs. Imported only when the user asks (transformers.js is ~1 MB, the ONNX
 * Runtime wasm 14 MB).
 */
// ONNX Runtime from the site's own files and one thread, set before transformers.js is evaluated (as the Translate
// view does: both views share one runtime).
import '../translate/runtime.js';
import {
  AutoModelForSeq2SeqLM,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from '@huggingface/transformers';
import type { LanguagePair } from './protocol.js';

/**
 * The path the exported folders answer at (`/__finetune-export__/exported-1/config.json`): a path no request ever
 * reaches, {@link memoryFetch} answers it from memory, a file the folder lacks with a 404 — no server round trip.
 */
const BASE = '/__finetune-export__/';

/** The folders loaded so far, by model id (a new id each time: transformers.js keeps nothing of an earlier one). */
const folders = new Map<string, Map<string, ArrayBuffer>>();
let loads = 0;

/** transformers.js's fetch: `env.fetch(urlOrPath, init)`. */
type EnvFetch = typeof env.fetch;

/** A fetch that answers {@link BASE} from {@link folders} and passes anything else to `next`. */
function memoryFetch(next: EnvFetch): EnvFetch {
  return async (input, init) => {
    const { pathname } = new URL(input, document.baseURI);
    if (!pathname.startsWith(BASE)) return next(input, init);
    const [id, ...rest] = decodeURIComponent(pathname.slice(BASE.length)).split('/');
    const data = folders.get(id)?.get(rest.join('/'));
    return data
      ? new Response(data, { headers: { 'content-length': String(data.byteLength) } })
      : new Response('not found', { status: 404 });
  };
}

let installed: EnvFetch | undefined;

/**
 * Puts {@link memoryFetch} in front of transformers.js's `env.fetch`. Again before each load: the Translate view's
 * translator sets its own `env.fetch` when it is first imported, which this one then wraps (its picked folders keep
 * working). The other settings are the Translate view's: local files only, nothing kept in the browser's caches.
 */
function configure(): void {
  if (env.fetch !== installed) {
    installed = memoryFetch(env.fetch);
    env.fetch = installed;
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useBrowserCache = false;
  env.useWasmCache = false;
  env.localModelPath = BASE;
}

/** An exported folder loaded with transformers.js. */
export interface ExportedTranslator {
  /** The model id transformers.js loaded it under. */
  id: string;
  /**
   * Greedy translations, as the library's `translateTexts(…, { beam: 1 })` decodes: the source cut to the model's
   * positions, at most ⌈1.5 × source tokens⌉ + 10 new tokens (below `max_position_embeddings`), and no EOS forced
   * at that cap (the library forces none). An NLLB-200 / M2M100 source starts with its language token and the
   * target language is forced as the first generated token, as the library does.
   */
  translate(texts: readonly string[]): Promise<string[]>;
  dispose(): Promise<void>;
}

/**
 * transformers.js' translation inputs of an NLLB-200 / M2M100 tokenizer (`NllbTokenizer`, `M2M100Tokenizer`): what its
 * `pipeline('translation')` calls. It puts `src_lang`'s token in the template and sets `forced_bos_token_id` in the
 * generation options it is given (the template's language is the export's default otherwise, `eng_Latn` / `en`).
 */
interface TranslationTokenizer {
  _build_translation_inputs(
    text: string,
    options: object,
    generation: Record<string, unknown>,
  ): { input_ids: Tensor; attention_mask: Tensor };
}

/**
 * Loads the tokenizer and the fp32 encoder / merged decoder of an exported folder's files (paths relative to it).
 * `languages`: an NLLB-200 / M2M100 export's pair (required for one: the target language is not in the folder).
 */
export async function loadExported(
  files: readonly { path: string; data: ArrayBuffer }[],
  languages?: LanguagePair,
): Promise<ExportedTranslator> {
  loads += 1;
  const id = `exported-${loads}`;
  folders.set(id, new Map(files.map((file) => [file.path, file.data])));
  configure();
  try {
    const options = { local_files_only: true } as const;
    const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(id, options);
    const model: PreTrainedModel = await AutoModelForSeq2SeqLM.from_pretrained(id, {
      ...options,
      dtype: 'fp32',
      device: 'wasm',
    });
    const positions = (model.config as unknown as { max_position_embeddings: number })
      .max_position_embeddings;
    const translation = tokenizer as unknown as Partial<TranslationTokenizer>;
    if (languages && typeof translation._build_translation_inputs !== 'function') {
      throw new Error(
        `transformers.js loaded a ${tokenizer.constructor.name}, which takes no src_lang / tgt_lang: not an NLLB-200 / M2M100 tokenizer.`,
      );
    }
    /** The source's ids and the generation options it needs (`forced_bos_token_id` for a language pair). */
    const encode = (text: string) => {
      if (!languages) {
        return { inputs: tokenizer(text) as { input_ids: Tensor; attention_mask: Tensor }, forced: {} };
      }
      const generation: Record<string, unknown> = {
        src_lang: languages.srcLang,
        tgt_lang: languages.tgtLang,
      };
      const inputs = translation._build_translation_inputs!(text, {}, generation);
      return { inputs, forced: { forced_bos_token_id: generation.forced_bos_token_id } };
    };
    return {
      id,
      async translate(texts) {
        const out: string[] = [];
        for (const text of texts) {
          const { inputs, forced } = encode(text);
          const length = Math.min(inputs.input_ids.dims[1], positions - 1);
          const cut = (tensor: Tensor) => tensor.slice(null, [0, length]);
          const output = (await model.generate({
            input_ids: cut(inputs.input_ids),
            attention_mask: cut(inputs.attention_mask),
            max_new_tokens: Math.max(1, Math.min(Math.ceil(1.5 * length) + 10, positions - 1)),
            num_beams: 1,
            do_sample: false,
            forced_eos_token_id: null,
            ...forced,
          } as never)) as Tensor;
          out.push(tokenizer.decode(output.tolist()[0] as bigint[], { skip_special_tokens: true }));
        }
        return out;
      },
      async dispose() {
        await model.dispose();
        folders.delete(id);
      },
    };
  } catch (error) {
    folders.delete(id);
    throw error;
  }
}
