import { invalidData } from '../../errors.js';
import {
  PieceType,
  parseSentencePieceModel,
  SentencePiece,
  type SentencePieceModel,
} from '../../tokenizers/sentencepiece.js';

/**
 * The serialized model without its `TrainerSpec` (top-level field 2). `SentencePiece` implements the unigram
 * lattice and refuses other model types, but its normaliser (precompiled character map, whitespace handling,
 * user-defined symbols) is the one every SentencePiece model type shares: without the trainer spec it reads the
 * BPE model as a unigram one, and only its `normalize` is used.
 */
function withoutTrainerSpec(bytes: Uint8Array, source: string): Uint8Array {
  const kept: number[] = [];
  let pos = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.length) return invalidData(`${source}: truncated SentencePiece model.`);
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return value;
      scale *= 128;
    }
  };
  while (pos < bytes.length) {
    const start = pos;
    const key = varint();
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 2) {
      const length = varint(); // read before advancing: `pos += varint()` would add to the stale `pos`
      pos += length;
    } else if (wire === 5) pos += 4;
    else invalidData(`${source}: not a SentencePiece model (protobuf wire type ${wire}).`);
    if (Math.floor(key / 8) !== 2) for (let i = start; i < pos; i++) kept.push(bytes[i]);
  }
  return Uint8Array.from(kept);
}

interface Pair {
  left: number;
  right: number;
  score: number;
  /** Length (UTF-16 units) of the merged piece: an entry whose symbols have changed since is stale. */
  size: number;
}

/** `a` comes out of the agenda before `b`: higher score first, then the leftmost. */
function before(a: Pair, b: Pair): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/** A binary max-heap of symbol pairs ordered by {@link before}. */
class Agenda {
  private readonly items: Pair[] = [];
  get size(): number {
    return this.items.length;
  }
  push(pair: Pair): void {
    const items = this.items;
    items.push(pair);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }
  pop(): Pair {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l], items[best])) best = l;
        if (r < items.length && before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/**
 * SentencePiece's BPE segmentation (`sentencepiece.bpe.model` of NLLB-200 and M2M100), as `spm_encode` computes
 * it: the model's normaliser, the text split into characters (user-defined symbols whole and never merged), then
 * repeatedly the adjacent pair whose concatenation is a piece with the highest score is merged (ties: the leftmost),
 * until no pair is a piece. A run of characters no piece covers becomes one piece (its id is the unknown piece's).
 * Refuses (INVALID_DATA) models other than BPE, byte fallback, and unused pieces (spm re-splits those).
 */
export class SentencePieceBpe {
  readonly model: SentencePieceModel;
  private readonly normalizer: SentencePiece;
  private readonly ids = new Map<string, number>();
  private readonly userDefined: string[];

  constructor(bytes: Uint8Array, source: string) {
    const model = parseSentencePieceModel(bytes, source);
    this.model = model;
    if (model.modelType !== 2)
      invalidData(`${source}: not a BPE SentencePiece model (model_type ${model.modelType}).`);
    if (model.byteFallback) invalidData(`${source}: SentencePiece byte fallback is not implemented.`);
    if (model.pieces.some((p) => p.type === PieceType.UNUSED)) {
      invalidData(`${source}: unused SentencePiece pieces (resegmentation) are not implemented.`);
    }
    this.normalizer = new SentencePiece(withoutTrainerSpec(bytes, source), source);
    model.pieces.forEach((p, id) => {
      if ((p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED) && !this.ids.has(p.piece)) {
        this.ids.set(p.piece, id);
      }
    });
    this.userDefined = model.pieces
      .filter((p) => p.type === PieceType.USER_DEFINED)
      .map((p) => p.piece)
      .sort((a, b) => b.length - a.length);
  }

  /** Number of pieces (ids `0 … size − 1`, `<unk>` `<s>` `</s>` included). */
  get size(): number {
    return this.model.pieces.length;
  }

  /** The normalised text (`▁` for spaces and the dummy prefix). */
  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  /** The pieces `spm_encode --output_format=piece` prints for `text`. */
  encode(text: string): string[] {
    const normalized = this.normalize(text);
    const symbols: { piece: string; prev: number; next: number; frozen: boolean }[] = [];
    for (let pos = 0; pos < normalized.length; ) {
      const user = this.userDefined.find((u) => normalized.startsWith(u, pos));
      const piece = user ?? String.fromCodePoint(normalized.codePointAt(pos)!);
      const index = symbols.length;
      symbols.push({ piece, prev: index - 1, next: -1, frozen: user !== undefined });
      if (index > 0) symbols[index - 1].next = index;
      pos += piece.length;
    }
    const agenda = new Agenda();
    const consider = (left: number, right: number) => {
      if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
      const merged = symbols[left].piece + symbols[right].piece;
      const id = this.ids.get(merged);
      if (id === undefined) return;
      agenda.push({ left, right, score: this.model.pieces[id].score, size: merged.length });
    };
    for (let i = 1; i < symbols.length; i++) consider(i - 1, i);
    while (agenda.size > 0) {
      const top = agenda.pop();
      const left = symbols[top.left];
      const right = symbols[top.right];
      if (!left.piece || !right.piece || left.piece.length + right.piece.length !== top.size) continue;
      left.piece += right.piece;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.left;
      right.piece = '';
      consider(left.prev, top.left);
      consider(top.left, left.next);
    }
    // As SentencePieceProcessor::Encode does for every model type: a run of unknown pieces becomes one piece.
    const out: string[] = [];
    let previousUnknown = false;
    for (let i = symbols.length > 0 ? 0 : -1; i >= 0; i = symbols[i].next) {
      const unknown = !this.ids.has(symbols[i].piece);
      if (unknown && previousUnknown) out[out.length - 1] += symbols[i].piece;
      else out.push(symbols[i].piece);
      previousUnknown = unknown;
    }
    return out;
  }

  /** SentencePiece id of `piece` (`PieceToId`): the unknown piece's id when it is not a piece. */
  pieceId(piece: string): number {
    return this.ids.get(piece) ?? this.model.unkId;
  }

  /** The piece of SentencePiece id `id`. */
  idToPiece(id: number): string | undefined {
    return this.model.pieces[id]?.piece;
  }
}
