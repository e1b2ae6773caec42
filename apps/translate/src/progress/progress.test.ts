import { expect, test } from 'vitest';
import { formatDuration, Progress } from './progress.js';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 200, write: (text: string) => writes.push(text) };
}

test('durations print as tqdm does', () => {
  expect(formatDuration(0)).toBe('00:00');
  expect(formatDuration(75.4)).toBe('01:15');
  expect(formatDuration(3 * 3600 + 62)).toBe('3:01:02');
  expect(formatDuration(Number.NaN)).toBe('?');
});

test('a TTY gets one live line rewritten in place, with rate, elapsed and ETA; messages go above it', () => {
  let now = 0;
  const out = stream(true);
  const progress = new Progress({ label: 'train', total: 10, unit: 'step', stream: out, now: () => now });
  progress.update(0);
  now = 2000;
  progress.update(4, { loss: '1.234' });
  expect(out.writes[1]).toBe('\r\x1b[2Ktrain 4/10 40% | loss 1.234 | 2.0 step/s | 00:02<00:03');
  progress.message('step 4: valid nll 2.000');
  expect(out.writes[2]).toBe(
    '\r\x1b[2Kstep 4: valid nll 2.000\ntrain 4/10 40% | loss 1.234 | 2.0 step/s | 00:02<00:03',
  );
  progress.finish();
  expect(out.writes.at(-1)).toBe('\n');
  expect(out.writes.join('')).not.toMatch(/\n.*\n.*\n/);
});

test('a pipe gets plain lines every `every` units and at the end, never carriage returns', () => {
  let now = 0;
  const out = stream(false);
  const progress = new Progress({ label: 'score', total: 7, every: 3, stream: out, now: () => now });
  for (let i = 1; i <= 7; i++) {
    now += 1000;
    progress.update(i);
  }
  progress.finish();
  expect(out.writes.map((w) => w.split(' | ')[0])).toEqual([
    'score 3/7 42%',
    'score 6/7 85%',
    'score 7/7 100%',
  ]);
  expect(out.writes.join('')).not.toContain('\r');
  // A resumed run counts its rate from the resume point.
  const resumed = stream(false);
  const later = new Progress({ label: 'train', total: 100, every: 10, stream: resumed, now: () => now });
  later.restart(50);
  now += 4000;
  later.update(60);
  expect(resumed.writes).toEqual(['train 60/100 60% | 2.5 it/s | 00:04<00:16\n']);
  const quiet = stream(false);
  const silent = new Progress({ label: 'x', total: 2, stream: quiet, quiet: true });
  silent.update(2);
  silent.message('hello');
  expect(quiet.writes).toEqual([]);
});
