import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { jsonErrorLocation, parseJson } from './data.js';

function locate(text: string) {
  try {
    JSON.parse(text);
  } catch (error) {
    return jsonErrorLocation(text, error);
  }
  throw new Error('valid JSON');
}

describe('JSON syntax errors name line:column', () => {
  test.each([
    ['{\n  "a": 1,\n  oops\n}', 3, 3], // V8 gives a position
    ['{"en": x}', 1, 8], // V8 gives only the token: found by searching prefixes
    ['[1, 2,\n 3,,]', 2, 4],
    ['{"a": 1', 1, 8], // ends early: at the end
    ['12x', 1, 3],
  ])('%j → %i:%i', (text, line, column) => {
    expect(locate(text)).toEqual({ line, column });
  });

  test('parseJson throws INVALID_DATA as file:line:column', () => {
    // `tru` could still become `true`: the space after it is the first character JSON cannot continue with.
    expect(() => parseJson('{\n "a": tru }', 'c.json')).toThrow(/^c\.json:2:10: not valid JSON/);
    // A second value after the first: its first character is the error.
    expect(() => parseJson('{"a": 1}\n{', 'd.jsonl', 5)).toThrow(/^d\.jsonl:6:1: /);
  });

  test('property: a stray character put into valid JSON is located where it was put, or before', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), fc.constantFrom('}', ']', ':', '#', '@'), (value, at, stray) => {
        const valid = JSON.stringify(value, null, 1);
        const offset = at % (valid.length + 1);
        const text = valid.slice(0, offset) + stray + valid.slice(offset);
        let parsed = true;
        try {
          JSON.parse(text);
        } catch {
          parsed = false;
        }
        if (parsed) return; // a stray inside a string stays valid JSON
        const where = locate(text)!;
        const lines = text.split('\n');
        const errorOffset =
          lines.slice(0, where.line - 1).reduce((n, l) => n + l.length + 1, 0) + where.column - 1;
        // JSON may notice the stray at once or, when it lands in a string, at the string's end: never before it.
        expect(errorOffset).toBeGreaterThanOrEqual(0);
        expect(errorOffset).toBeLessThanOrEqual(text.length);
        expect(errorOffset).toBeGreaterThanOrEqual(Math.min(offset, text.length));
      }),
      { numRuns: 300 },
    );
  });
});
