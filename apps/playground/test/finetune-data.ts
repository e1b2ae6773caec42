import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * English→German pairs from the tiny OPUS-MT fixture's own test sentences (Debian's trans-de-en dictionary; the
 * fixture's vocabulary was built from them, so they encode into its pieces): the lines without a tab whose pieces
 * (`*.pieces`, what SentencePiece made of them) fit the model's 64 positions, in file order.
 */
export function fixturePairs(fixture: string, count: number): { source: string; target: string }[] {
  const lines = (name: string) => readFileSync(join(fixture, name), 'utf8').split('\n');
  const [en, de, enPieces, dePieces] = [
    'test-sentences.en',
    'test-sentences.de',
    'test-sentences.en.pieces',
    'test-sentences.de.pieces',
  ].map(lines);
  const pairs: { source: string; target: string }[] = [];
  for (let i = 0; i < en.length && pairs.length < count; i++) {
    const [source, target] = [en[i], de[i] ?? ''];
    if (!source.trim() || !target.trim() || `${source}${target}`.includes('\t')) continue;
    if (enPieces[i].split(' ').length > 40 || (dePieces[i] ?? '').split(' ').length > 40) continue;
    pairs.push({ source, target });
  }
  if (pairs.length < count)
    throw new Error(`${fixture} has ${pairs.length} usable pairs, fewer than ${count}.`);
  return pairs;
}

/** Pairs as TSV text, one per line. */
export function toTsv(pairs: readonly { source: string; target: string }[]): string {
  return pairs.map((p) => `${p.source}\t${p.target}\n`).join('');
}
