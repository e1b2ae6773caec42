import { defineConfig } from 'vitest/config';

// The repository's own scripts (the backend generator).
export default defineConfig({
  test: {
    name: 'scripts',
    include: ['*.test.ts'],
    // Generating a backend runs its whole conformance suite in a child vitest: minutes on a busy 2-core machine.
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
