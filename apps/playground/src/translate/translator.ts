import './runtime.js';
import {
  AutoModelForSeq2SeqLM,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  Tensor,
} from '@huggingface/transformers';
import { type ModelSource, modelFetch } from './model-source.js';

let current: ModelSource | undefined;

// Only the folder the user gave: never the model hub, never the browser's cache of an earlier folder.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;
env.useWasmCache = false;
env.fetch = modelFetch(() => current);

/** Teacher-forced logits of a reference translation. */
export interface ReferenceLogits {
  /** The reference's token ids, EOS included: the targets `[T]`. */
  targets: number[];
  /** Their tokens as text. */
  tokens: string[];
  /** Logits `[1, T, V]`, row t predicting targets[t] from the source and targets[0..t). */
  logits: Float32Array;
  vocabulary: number;
}

/** An exported Marian model loaded with transformers.js. */
export interface Translator {
  name: string;
  translate(text: string, options: { maxNewTokens: number }): Promise<string>;
  /** The folder's tokenizer: source ids of `text`, EOS included (what the encoder reads). */
  encode(text: string): number[];
  /** Text of target ids, special tokens left out (as {@link Translator.translate} decodes). */
  decode(ids: readonly number[]): string;
  referenceLogits(source: string, reference: string): Promise<ReferenceLogits>;
  dispose(): Promise<void>;
}

/** Loads the tokenizer and the encoder / merged decoder of an exported folder (fp32) on the wasm EP. */
export async function loadTranslator(source: ModelSource): Promise<Translator> {
  current = source;
  env.localModelPath = source.base;
  const options = { local_files_only: true } as const;
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(source.name, options);
  const model: PreTrainedModel = await AutoModelForSeq2SeqLM.from_pretrained(source.name, {
    ...options,
    dtype: 'fp32',
    device: 'wasm',
  });
  const config = model.config as unknown as { decoder_start_token_id: number };
  return {
    name: source.name,
    async translate(text, { maxNewTokens }) {
      const inputs = tokenizer(text);
      const output = (await model.generate({
        ...inputs,
        max_new_tokens: maxNewTokens,
        num_beams: 1, // greedy: transformers.js's beam sampler is not the app's beam search
        do_sample: false,
      })) as Tensor;
      return tokenizer.decode(output.tolist()[0] as bigint[], { skip_special_tokens: true });
    },
    encode(text) {
      return Array.from(tokenizer(text).input_ids.data as BigInt64Array, Number);
    },
    decode(ids) {
      return tokenizer.decode([...ids], { skip_special_tokens: true });
    },
    async referenceLogits(sourceText, reference) {
      const inputs = tokenizer(sourceText);
      const targets = Array.from(tokenizer(reference).input_ids.data as BigInt64Array, Number);
      // Teacher forcing: the decoder reads the start token and the reference shifted right by one.
      const decoderIds = [config.decoder_start_token_id, ...targets.slice(0, -1)];
      const decoder_input_ids = new Tensor('int64', BigInt64Array.from(decoderIds, BigInt), [
        1,
        decoderIds.length,
      ]);
      const { logits } = (await model({ ...inputs, decoder_input_ids })) as { logits: Tensor };
      const [, length, vocabulary] = logits.dims;
      if (length !== targets.length) throw new Error(`Expected ${targets.length} logit rows, got ${length}.`);
      return {
        targets,
        tokens: targets.map((id) => tokenizer.decode([id], { skip_special_tokens: false })),
        logits: logits.data as Float32Array,
        vocabulary,
      };
    },
    async dispose() {
      await model.dispose();
    },
  };
}
