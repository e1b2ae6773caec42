/**
 * The bookkeeping of beam search (greedy with `beam: 1`), apart from the engine that computes the log-probabilities:
 * `el-translate translate` runs it over the tfjs model (decode.ts), the exported model's translator over ONNX
 * Runtime sessions (export/onnx-translator.ts). No tfjs or Node imports, so it bundles for the browser.
 *
 * A hypothesis that emits EOS (or reaches the length cap) is final and takes one of its sentence's `beam` slots;
 * the others keep expanding. A sentence is done when all its slots have finished, or (`stopEarly`) when its best
 * finished score cannot be beaten: a live hypothesis with log-probability s ≤ 0 and n tokens ends with a score at
 * most s / L^α, L the longest possible length for α > 0 and n + 1 otherwise. Finished hypotheses and done
 * sentences leave the live rows.
 */

/** Options shared by the decoders, as `el-translate translate` takes them. */
export interface BeamOptions {
  /** Beam size; `1` is greedy. Default `5`. */
  beam?: number;
  /** Length penalty α: hypotheses are ranked by logP / (length + 1)^α (HF, fairseq). Default `1`. */
  lengthPenalty?: number;
  /**
   * Most generated tokens per sentence (EOS excluded); a hypothesis that reaches it is cut and finished.
   * Default: ⌈1.5 × source length⌉ + 10 per sentence, capped by the model's positions.
   */
  maxLength?: number;
  /**
   * Stop a sentence as soon as no live hypothesis can beat its best finished one under the length penalty (an
   * exact bound, so the result does not change). Default `true`; `false` decodes until every beam has finished.
   */
  stopEarly?: boolean;
  /**
   * The first generated token of every sentence, as HF's `forced_bos_token_id` (NLLB-200 / M2M100: the target
   * language's id): on the first step it is each sentence's only candidate, with log-probability 0 (HF's
   * `ForcedBOSTokenLogitsProcessor` sets every other logit to −∞). It counts towards {@link maxLength}.
   */
  forcedBosTokenId?: number;
}

/** The special ids and sizes the search needs (HF MarianConfig names). */
export interface BeamModelConfig {
  eos_token_id: number;
  pad_token_id: number;
  decoder_start_token_id: number;
  vocab_size: number;
  max_position_embeddings: number;
}

interface Hypothesis {
  /** The sentence it belongs to. */
  item: number;
  tokens: number[];
  /** Cumulative log-probability. */
  score: number;
}

interface Candidate {
  /** Row of the expanded hypothesis in the current state. */
  row: number;
  token: number;
  score: number;
}

/** How the live rows moved in one step: the engine reorders its decoder state the same way. */
export interface BeamMove {
  /** For each new live row, the old row it continues. */
  rows: number[];
  /** Every old row continues in place: the state needs no reordering. */
  sameRows: boolean;
  /** Every new row belongs to the sentence of the same old row: cross-attention state needs no reordering. */
  sameSentences: boolean;
}

/**
 * The best tokens of each live row, as an engine may compute them without reading back the whole distribution
 * (see `topLogProbs` in model/kernels/decode-scan.ts): row r's `counts[r]` tokens at `r·k …`, best first.
 */
export interface RowCandidates {
  /** Capacity per row. */
  k: number;
  /** Tokens listed per row: `k`, or fewer when the row has no more candidates. */
  counts: ArrayLike<number>;
  /** Token ids `[rows, k]`, padding never among them. */
  tokens: ArrayLike<number>;
  /** Their log-probabilities `[rows, k]`. */
  logProbs: ArrayLike<number>;
}

/** Keeps the `k` best candidates, sorted best first (insertion into a short sorted list). */
function pushTop(list: Candidate[], candidate: Candidate, k: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1].score < candidate.score) i--;
  list.splice(i, 0, candidate);
  if (list.length > k) list.pop();
}

/**
 * The state of a beam search over a batch of sentences. Rows of one sentence are contiguous, sentences in order.
 *
 * @example
 * ```ts
 * const search = new BeamSearch(sources.map((s) => s.length), config, { beam: 5 });
 * while (!search.done) {
 *   const logProbs = runDecoder(search.lastTokens()); // [rows, V] log-softmax, row-major
 *   const { rows, sameRows } = search.step(logProbs);
 *   if (!search.done && !sameRows) reorderDecoderState(rows);
 * }
 * const ids = search.best();
 * ```
 */
export class BeamSearch {
  private live: Hypothesis[];
  private readonly finished: { tokens: number[]; score: number }[][];
  private readonly beam: number;
  private readonly alpha: number;
  private readonly stopEarly: boolean;
  private readonly maxLengths: number[];
  private readonly forcedBos: number | undefined;

  /** `sourceLengths`: tokens of each source sentence (EOS included), for the default length cap. */
  constructor(
    sourceLengths: readonly number[],
    private readonly config: BeamModelConfig,
    options: BeamOptions = {},
  ) {
    this.beam = options.beam ?? 5;
    this.alpha = options.lengthPenalty ?? 1;
    this.stopEarly = options.stopEarly ?? true;
    this.forcedBos = options.forcedBosTokenId;
    const cap = config.max_position_embeddings - 1;
    this.maxLengths = sourceLengths.map((length) =>
      Math.max(1, Math.min(options.maxLength ?? Math.ceil(1.5 * length) + 10, cap)),
    );
    this.live = sourceLengths.map((_, item) => ({ item, tokens: [], score: 0 }));
    this.finished = sourceLengths.map(() => []);
  }

  /** Every sentence is done. */
  get done(): boolean {
    return this.live.length === 0;
  }

  /** The number of live rows: the batch of the next decoder step. */
  get rows(): number {
    return this.live.length;
  }

  /** The last token of each live row (the decoder start token before the first step): the next step's input. */
  lastTokens(): number[] {
    const start = this.config.decoder_start_token_id;
    return this.live.map((h) => (h.tokens.length ? h.tokens[h.tokens.length - 1] : start));
  }

  /** Advances every sentence by one token from the live rows' log-probabilities `[rows, V]` (row-major). */
  step(logProbs: ArrayLike<number>): BeamMove {
    const { pad_token_id: pad, vocab_size: vocab } = this.config;
    const { live } = this;
    return this.advance((first, end, slots) => {
      const candidates: Candidate[] = [];
      for (let row = first; row < end; row++) {
        const offset = row * vocab;
        const base = live[row].score;
        for (let v = 0; v < vocab; v++) {
          const score = base + logProbs[offset + v];
          // Rejected before a candidate is allocated (N·V of them per step otherwise).
          if (v === pad || (candidates.length === slots && score <= candidates[slots - 1].score)) continue;
          pushTop(candidates, { row, token: v, score }, slots);
        }
      }
      return candidates;
    });
  }

  /**
   * {@link step} from each live row's best tokens only (padding excluded, best first, the lower id first among
   * equal log-probabilities) instead of the whole distribution: the same result as long as every row lists at
   * least {@link width} tokens or all its candidates. A sentence's best expansions are among its rows' best ones.
   */
  stepTop(top: RowCandidates): BeamMove {
    const { live } = this;
    for (let row = 0; row < live.length; row++) {
      if (top.k < this.beam && top.counts[row] === top.k) {
        throw new Error(`BeamSearch.stepTop: ${top.k} tokens per row, beam ${this.beam} needs as many`);
      }
    }
    return this.advance((first, end, slots) => {
      const candidates: Candidate[] = [];
      for (let row = first; row < end; row++) {
        const base = live[row].score;
        for (let i = row * top.k, last = i + top.counts[row]; i < last; i++) {
          const score = base + top.logProbs[i];
          // The row's later tokens score no better.
          if (candidates.length === slots && score <= candidates[slots - 1].score) break;
          pushTop(candidates, { row, token: top.tokens[i], score }, slots);
        }
      }
      return candidates;
    });
  }

  /** The beam size: the most tokens per row {@link stepTop} needs. */
  get width(): number {
    return this.beam;
  }

  /** One step, given each sentence's best `slots` expansions of its rows `[first, end)`. */
  private advance(select: (first: number, end: number, slots: number) => Candidate[]): BeamMove {
    const { eos_token_id: eos } = this.config;
    const { live, finished, beam, alpha, maxLengths } = this;
    const normalised = (score: number, tokens: number) => score / (tokens + 1) ** alpha;
    const next: Hypothesis[] = [];
    const rows: number[] = [];
    for (let first = 0; first < live.length; ) {
      const item = live[first].item;
      let end = first;
      while (end < live.length && live[end].item === item) end++;
      const slots = beam - finished[item].length;
      // The best `slots` expansions: each either ends (EOS or the cap) and takes a slot, or continues.
      const candidates =
        this.forcedBos !== undefined && live[first].tokens.length === 0
          ? [{ row: first, token: this.forcedBos, score: live[first].score }]
          : select(first, end, slots);
      const continuing: Candidate[] = [];
      for (const c of candidates) {
        const tokens = live[c.row].tokens;
        if (c.token === eos) {
          finished[item].push({ tokens, score: normalised(c.score, tokens.length) });
        } else if (tokens.length + 1 >= maxLengths[item]) {
          finished[item].push({
            tokens: [...tokens, c.token],
            score: normalised(c.score, tokens.length + 1),
          });
        } else continuing.push(c);
      }
      let done = finished[item].length >= beam || continuing.length === 0;
      if (!done && this.stopEarly && finished[item].length > 0) {
        const best = Math.max(...finished[item].map((f) => f.score));
        const longest = maxLengths[item] + 1;
        const bound = Math.max(
          ...continuing.map((c) =>
            alpha > 0 ? c.score / longest ** alpha : normalised(c.score, live[c.row].tokens.length + 1),
          ),
        );
        done = best >= bound;
      }
      if (!done) {
        for (const c of continuing) {
          next.push({ item, tokens: [...live[c.row].tokens, c.token], score: c.score });
          rows.push(c.row);
        }
      }
      first = end;
    }
    const sameRows = rows.length === live.length && rows.every((row, i) => row === i);
    const sameSentences =
      rows.length === live.length && rows.every((row, i) => live[row].item === live[i].item);
    this.live = next;
    return { rows, sameRows, sameSentences };
  }

  /** The best finished hypothesis of each sentence (ids without EOS). */
  best(): number[][] {
    return this.finished.map((list) =>
      list.length === 0 ? [] : list.reduce((best, f) => (f.score > best.score ? f : best)).tokens,
    );
  }
}
