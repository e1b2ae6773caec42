/** Mean and sample standard deviation (n − 1; `NaN` for one value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const squares = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : Number.NaN };
}

/** The significance level the report marks p-values against. */
export const ALPHA = 0.05;
