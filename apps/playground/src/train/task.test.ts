import { describe, expect, it } from 'vitest';
import { spirals } from './task.js';
import { boundaryGrid } from './trainer.js';

describe('spirals', () => {
  it('is seeded: the same seed gives the same task, another seed another sample', () => {
    const options = { classes: 3, perClass: 20, noise: 0.1, seed: 7 };
    const a = spirals(options);
    expect(spirals(options)).toEqual(a);
    expect(spirals({ ...options, seed: 8 }).points).not.toEqual(a.points);
    expect(Array.from(a.labels.slice(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(a.points.length).toBe(120);
  });

  it('without noise puts every point on its arm, within radius 1', () => {
    const task = spirals({ classes: 3, perClass: 50, noise: 0, seed: 1 });
    for (let i = 0; i < task.count; i++)
      expect(Math.hypot(task.points[2 * i], task.points[2 * i + 1])).toBeLessThanOrEqual(1 + 1e-6);
  });
});

describe('boundaryGrid', () => {
  it('covers [−e, e]² row by row from the top-left, at cell centres', () => {
    const grid = boundaryGrid(4, 2);
    expect(Array.from(grid.slice(0, 4))).toEqual([-1.5, 1.5, -0.5, 1.5]);
    expect(Array.from(grid.slice(-2))).toEqual([1.5, -1.5]);
  });
});
