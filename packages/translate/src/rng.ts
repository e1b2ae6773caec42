import { mulberry32Next, mulberry32Value } from '@encouraging-loss/core';

/**
 * Seeded pseudo-random numbers (mulberry32). The whole state is one uint32, so a checkpoint can store it and a
 * resumed run draws exactly the numbers an uninterrupted run would.
 */
export class Rng {
  /** The current state; save it to resume the stream. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = mulberry32Next(this.state);
    return mulberry32Value(this.state);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A seed for a tfjs op (dropout) drawn from this stream. */
  seed(): number {
    return this.int(2 ** 31);
  }
}
