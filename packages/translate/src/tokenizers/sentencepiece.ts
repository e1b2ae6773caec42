import { invalidData } from '../errors.js';

/** Piece types of SentencePiece's `ModelProto.SentencePiece.Type`. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** One vocabulary entry of a SentencePiece model. */
export interface Piece {
  piece: string;
  /** Log-probability (float32) for unigram models. */
  score: number;
  type: number;
}

/** The fields of a `.spm` file (`sentencepiece_model.proto` `ModelProto`) that encoding depends on. */
export interface SentencePieceModel {
  pieces: Piece[];
  /** `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  unkId: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  /** `NormalizerSpec`. */
  normalizerName: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  /** `ModelProto.denormalizer_spec` carries rules (decoding would need them). */
  hasDenormalizer: boolean;
}

type Fields = Map<number, (number | Uint8Array)[]>;

/** Field number → values (varints as numbers, fixed32 as raw uint32, length-delimited as byte views). */
function decodeMessage(bytes: Uint8Array, source: string): Fields {
  const fields: Fields = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const truncated = () => invalidData(`${source}: truncated SentencePiece model.`);
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.length) truncated();
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return value;
      scale *= 128;
      if (scale > 2 ** 63) invalidData(`${source}: malformed varint in the SentencePiece model.`);
    }
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: number | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      if (pos + 8 > bytes.length) truncated();
      pos += 8;
      value = 0;
    } else if (wire === 2) {
      const length = varint();
      if (pos + length > bytes.length) truncated();
      value = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wire === 5) {
      if (pos + 4 > bytes.length) truncated();
      value = view.getUint32(pos, true);
      pos += 4;
    } else return invalidData(`${source}: not a SentencePiece model (protobuf wire type ${wire}).`);
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

/** The last value of a field (protobuf: the last one wins), checked to have the wire type the schema gives it. */
function scalarField(fields: Fields, field: number, what: string, source: string): number | undefined {
  const value = fields.get(field)?.at(-1);
  if (value instanceof Uint8Array) invalidData(`${source}: SentencePiece field ${what} is not a number.`);
  return value as number | undefined;
}

function bytesField(fields: Fields, field: number, what: string, source: string): Uint8Array | undefined {
  const value = fields.get(field)?.at(-1);
  if (value !== undefined && !(value instanceof Uint8Array))
    invalidData(`${source}: SentencePiece field ${what} is not a string or message.`);
  return value as Uint8Array | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a SentencePiece model file (`source.spm` / `target.spm`: a serialized `ModelProto`): pieces with scores
 * and types, the trainer settings encoding depends on, and the normalizer (the precompiled character map of rules
 * such as `nmt_nfkc`, and the whitespace options). Refuses (INVALID_DATA) what SentencePiece's own loader refuses:
 * an empty piece, a piece defined twice, no or two unknown pieces, and a field of the wrong wire type.
 */
export function parseSentencePieceModel(bytes: Uint8Array, source: string): SentencePieceModel {
  const top = decodeMessage(bytes, source);
  const float = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
  const text = (value: Uint8Array | undefined) => {
    if (value === undefined) return '';
    try {
      return utf8.decode(value);
    } catch {
      return invalidData(`${source}: a piece is not valid UTF-8.`);
    }
  };
  const message = (field: number, what: string) =>
    decodeMessage(bytesField(top, field, what, source) ?? new Uint8Array(), source);
  const types = new Set<number>(Object.values(PieceType));
  const seen = new Set<string>();
  let unkId = -1;
  const pieces = (top.get(1) ?? []).map((raw, id) => {
    if (!(raw instanceof Uint8Array)) return invalidData(`${source}: piece ${id} is not a message.`);
    const fields = decodeMessage(raw, source);
    const piece = {
      piece: text(bytesField(fields, 1, 'piece', source)),
      score: float(scalarField(fields, 2, 'score', source) ?? 0),
      type: scalarField(fields, 3, 'type', source) ?? PieceType.NORMAL,
    };
    // proto2 keeps an enum value it does not know as an unknown field: the piece is NORMAL, as spm reads it.
    if (!types.has(piece.type)) piece.type = PieceType.NORMAL;
    // As sentencepiece's ModelInterface::InitializePieces: an empty piece would match everywhere and consume
    // nothing (normalisation would never advance).
    if (piece.piece === '')
      invalidData(`${source}: piece ${id} is empty (SentencePiece: "piece must not be empty").`);
    const normal = [PieceType.NORMAL, PieceType.USER_DEFINED, PieceType.UNUSED].includes(
      piece.type as 1 | 4 | 5,
    );
    const key = `${normal ? 'n' : 'r'}${piece.piece}`;
    if (seen.has(key))
      invalidData(`${source}: piece ${id} ${JSON.stringify(piece.piece)} is already defined.`);
    seen.add(key);
    if (piece.type === PieceType.UNKNOWN) {
      if (unkId >= 0)
        invalidData(`${source}: the SentencePiece model has two unknown pieces (${unkId}, ${id}).`);
      unkId = id;
    }
    return piece;
  });
  if (pieces.length === 0) invalidData(`${source}: not a SentencePiece model (no pieces).`);
  const trainer = message(2, 'trainer_spec');
  const normalizer = message(3, 'normalizer_spec');
  const denormalizer = message(5, 'denormalizer_spec');
  const flag = (fields: Fields, field: number, fallback: boolean) => {
    const value = scalarField(fields, field, `${field}`, source);
    return value === undefined ? fallback : value !== 0;
  };
  if (unkId < 0) invalidData(`${source}: the SentencePiece model has no unknown piece.`);
  return {
    pieces,
    modelType: scalarField(trainer, 3, 'model_type', source) ?? 1,
    unkId,
    byteFallback: flag(trainer, 35, false),
    treatWhitespaceAsSuffix: flag(trainer, 24, false),
    normalizerName: text(bytesField(normalizer, 1, 'name', source)),
    precompiledCharsmap: bytesField(normalizer, 2, 'precompiled_charsmap', source) ?? new Uint8Array(),
    addDummyPrefix: flag(normalizer, 3, true),
    removeExtraWhitespaces: flag(normalizer, 4, true),
    escapeWhitespaces: flag(normalizer, 5, true),
    hasDenormalizer: !!bytesField(denormalizer, 2, 'precompiled_charsmap', source)?.length,
  };
}

const SPACE = '\u2581';
const UNK_PENALTY = 10;

/**
 * SentencePiece's unigram segmentation, as `spm_encode` computes it: the model's own normaliser (the precompiled
 * character map, longest match over UTF-8 bytes in its double-array trie; whitespace trimmed and collapsed; `▁`
 * for spaces and as a dummy prefix), then Viterbi over the piece lattice with float32 scores, unknown characters
 * at `min score − 10`, and runs of unknown characters merged into one piece.
 *
 * Refuses (INVALID_DATA) what Marian models do not use and this class does not implement: BPE/word/char models,
 * byte fallback, whitespace as suffix, denormalisation rules.
 */
export class SentencePiece {
  readonly model: SentencePieceModel;
  private readonly ids = new Map<string, number>();
  private readonly maxPieceLength: number;
  private readonly minScore: number;
  private readonly maxScore: number;
  /** User-defined pieces as UTF-8, by their first byte, longest first (they match before any rule). */
  private readonly userDefined = new Map<number, Uint8Array[]>();
  private readonly trie?: Uint32Array;
  private readonly normalized?: Uint8Array;

  constructor(bytes: Uint8Array, source: string) {
    const model = parseSentencePieceModel(bytes, source);
    this.model = model;
    if (model.modelType !== 1)
      invalidData(`${source}: only unigram SentencePiece models are read (model_type ${model.modelType}).`);
    if (model.byteFallback) invalidData(`${source}: SentencePiece byte fallback is not implemented.`);
    if (model.treatWhitespaceAsSuffix)
      invalidData(`${source}: treat_whitespace_as_suffix is not implemented.`);
    if (model.hasDenormalizer)
      invalidData(`${source}: SentencePiece denormalisation rules are not implemented.`);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let longest = 1;
    model.pieces.forEach((p, id) => {
      if (p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED) {
        if (!this.ids.has(p.piece)) this.ids.set(p.piece, id);
        longest = Math.max(longest, Array.from(p.piece).length);
      }
      if (p.type === PieceType.NORMAL) {
        min = Math.min(min, p.score);
        max = Math.max(max, p.score);
      }
    });
    this.maxPieceLength = longest;
    this.minScore = min;
    this.maxScore = max;
    for (const p of model.pieces) {
      if (p.type !== PieceType.USER_DEFINED) continue;
      const bytes = encoder.encode(p.piece);
      const list = this.userDefined.get(bytes[0]) ?? [];
      list.push(bytes);
      this.userDefined.set(bytes[0], list);
    }
    for (const list of this.userDefined.values()) list.sort((a, b) => b.length - a.length);
    const blob = model.precompiledCharsmap;
    if (blob.length > 0) {
      if (blob.length < 4) invalidData(`${source}: malformed precompiled_charsmap.`);
      const trieSize = new DataView(blob.buffer, blob.byteOffset, 4).getUint32(0, true);
      if (trieSize % 4 || 4 + trieSize > blob.length)
        invalidData(`${source}: malformed precompiled_charsmap.`);
      const units = new Uint8Array(trieSize);
      units.set(blob.subarray(4, 4 + trieSize));
      this.trie = new Uint32Array(units.buffer);
      this.normalized = blob.subarray(4 + trieSize);
    }
  }

  /** Longest rule of the character map matching `input` at `pos` (darts-clone commonPrefixSearch). */
  private longestRule(input: Uint8Array, pos: number): { length: number; value: number } | undefined {
    const trie = this.trie!;
    const offset = (unit: number) => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    let node = offset(trie[0]);
    let best: { length: number; value: number } | undefined;
    for (let i = pos; i < input.length; i++) {
      const label = input[i];
      node ^= label;
      if (node >= trie.length) break;
      const unit = trie[node];
      if ((unit & ((1 << 31) | 0xff)) >>> 0 !== label) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        if (node >= trie.length) break;
        best = { length: i + 1 - pos, value: trie[node] & 0x7fffffff };
      }
    }
    return best;
  }

  /** One normalisation step at `pos`: the replacement bytes and how many input bytes they consume. */
  private normalizePrefix(input: Uint8Array, pos: number): { out: Uint8Array; consumed: number } {
    for (const bytes of this.userDefined.get(input[pos]) ?? []) {
      if (bytes.every((b, i) => input[pos + i] === b)) return { out: bytes, consumed: bytes.length };
    }
    const rule = this.trie ? this.longestRule(input, pos) : undefined;
    if (rule) {
      const end = this.normalized!.indexOf(0, rule.value);
      return { out: this.normalized!.subarray(rule.value, end < 0 ? undefined : end), consumed: rule.length };
    }
    const length = charLength(input[pos]);
    return { out: input.subarray(pos, pos + length), consumed: length };
  }

  /** The normalised text (`normalizer.cc` `Normalize`): with `▁` for spaces and the dummy prefix. */
  normalize(text: string): string {
    const { removeExtraWhitespaces, addDummyPrefix, escapeWhitespaces } = this.model;
    const input = encoder.encode(text);
    const out: number[] = [];
    const space = escapeWhitespaces ? [0xe2, 0x96, 0x81] : [0x20];
    let pos = 0;
    const isSpace = (bytes: Uint8Array) => bytes.length === 1 && bytes[0] === 0x20;
    if (removeExtraWhitespaces) {
      while (pos < input.length) {
        const step = this.normalizePrefix(input, pos);
        if (!isSpace(step.out)) break;
        pos += step.consumed;
      }
    }
    if (pos >= input.length) return '';
    if (addDummyPrefix) out.push(...space);
    let previousSpace = removeExtraWhitespaces;
    while (pos < input.length) {
      const step = this.normalizePrefix(input, pos);
      let start = 0;
      if (previousSpace) while (start < step.out.length && step.out[start] === 0x20) start++;
      if (start < step.out.length) {
        for (let i = start; i < step.out.length; i++) {
          if (escapeWhitespaces && step.out[i] === 0x20) out.push(...space);
          else out.push(step.out[i]);
        }
        previousSpace = step.out[step.out.length - 1] === 0x20;
      }
      pos += step.consumed;
      previousSpace = previousSpace && removeExtraWhitespaces;
    }
    if (removeExtraWhitespaces) {
      while (out.length >= space.length && space.every((b, i) => out[out.length - space.length + i] === b)) {
        out.length -= space.length;
      }
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }

  /** The pieces `spm_encode --output_format=piece` prints for `text` (unknown runs as their surface text). */
  encode(text: string): string[] {
    const chars = Array.from(this.normalize(text));
    const n = chars.length;
    const bytesOf = (s: string) => encoder.encode(s).length;
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    // best[i]: best path ending at char i (Viterbi over char positions; scores summed in float32 as spm does).
    const score = new Float64Array(n + 1).fill(Number.NaN);
    const from = new Int32Array(n + 1).fill(-1);
    const piece = new Int32Array(n + 1).fill(-1);
    score[0] = 0;
    for (let start = 0; start < n; start++) {
      const base = score[start];
      let hasSingle = false;
      let surface = '';
      for (let length = 1; length <= this.maxPieceLength && start + length <= n; length++) {
        surface += chars[start + length - 1];
        const id = this.ids.get(surface);
        if (id === undefined) continue;
        const entry = this.model.pieces[id];
        if (entry.type === PieceType.UNUSED) continue;
        const value =
          entry.type === PieceType.USER_DEFINED
            ? Math.fround(bytesOf(surface) * this.maxScore - 0.1)
            : entry.score;
        const candidate = Math.fround(value + base);
        const end = start + length;
        if (from[end] === -1 || candidate > score[end]) {
          score[end] = candidate;
          from[end] = start;
          piece[end] = id;
        }
        if (length === 1) hasSingle = true;
      }
      if (!hasSingle) {
        const candidate = Math.fround(unkScore + base);
        const end = start + 1;
        if (from[end] === -1 || candidate > score[end]) {
          score[end] = candidate;
          from[end] = start;
          piece[end] = this.model.unkId;
        }
      }
    }
    const path: { surface: string; unknown: boolean }[] = [];
    for (let end = n; end > 0; end = from[end]) {
      path.push({ surface: chars.slice(from[end], end).join(''), unknown: piece[end] === this.model.unkId });
    }
    path.reverse();
    const out: string[] = [];
    let previousUnknown = false;
    for (const { surface, unknown } of path) {
      if (unknown && previousUnknown) out[out.length - 1] += surface;
      else out.push(surface);
      previousUnknown = unknown;
    }
    return out;
  }

  /** Id of `piece` in this model, or `undefined`. */
  pieceId(piece: string): number | undefined {
    return this.ids.get(piece);
  }
}

const encoder = new TextEncoder();

/** Length of the UTF-8 sequence starting with `lead` (1 for a stray continuation byte). */
function charLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

export { SPACE };
