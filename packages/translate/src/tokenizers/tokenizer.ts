/**
 * What the rest of the app needs from a tokenizer. Two kinds implement it: the app's own BPE folders
 * (`tokenizer.json`, one vocabulary for both sides, `<pad>`=0 `</s>`=1 `<unk>`=2) and OPUS-MT / HF Marian folders
 * (`source.spm` + `target.spm` + `vocab.json`, or a converted `tokenizer.json`), whose special ids come from the
 * vocabulary (`</s>`=0, `<unk>`=1, `<pad>` last in OPUS-MT). Training pads with {@link padId}; the config's
 * `pad_token_id` must equal it.
 */
export interface SubwordTokenizer {
  /** Number of ids the tokenizer can produce (the vocabulary size; config.vocab_size may be larger). */
  vocabSize: number;
  /** Id of `<pad>`. */
  padId: number;
  /** Id of `</s>`. */
  eosId: number;
  /** Id of `<unk>`. */
  unkId: number;
  /** Ids of a source sentence followed by `</s>` (a multilingual model's `>>xxx<<` token first when set). */
  encodeSource(text: string): number[];
  /** Ids of a target sentence (labels) followed by `</s>`: Marian's target SentencePiece model when it has one. */
  encodeTarget(text: string): number[];
  /** Alias of {@link encodeSource}, kept for callers written before source and target were told apart. */
  encode(text: string): number[];
  /**
   * Text of target-side `ids`, special tokens (`</s>`, `<pad>`, `<unk>`) dropped; Marian folders decode as HF
   * `MarianTokenizer.decode(ids, skip_special_tokens=True)` does.
   */
  decode(ids: readonly number[]): string;
  /** Id of a vocabulary entry (e.g. a `>>deu<<` language token), or `undefined`. */
  tokenId?(token: string): number | undefined;
}
