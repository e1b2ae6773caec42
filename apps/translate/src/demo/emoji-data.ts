import { createRequire } from 'node:module';
import type { SentencePair } from '@encouraging-loss/translate/node';

interface EmojiEntry {
  hexcode: string;
  label: string;
}

/**
 * A real small parallel set: the English and German CLDR labels of `emojibase-data` (MIT), paired by code point,
 * e.g. "grinning face" → "grinsendes Gesicht". Short noun phrases, out of the demo's domains: a hard test.
 */
export function emojiLabelPairs(): SentencePair[] {
  const require = createRequire(import.meta.url);
  const english = require('emojibase-data/en/data.json') as EmojiEntry[];
  const german = require('emojibase-data/de/data.json') as EmojiEntry[];
  const byCode = new Map(german.map((e) => [e.hexcode, e.label]));
  return english
    .filter((e) => byCode.has(e.hexcode) && e.label && byCode.get(e.hexcode))
    .map((e) => ({ source: e.label, target: byCode.get(e.hexcode)! }));
}
