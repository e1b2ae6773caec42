/**
 * Marian's sinusoidal position table (`MarianSinusoidalPositionalEmbedding`), `[count, dim]` row-major in float64:
 * row p holds sin(p / 10000^(j/dim)) for the even j in its first ⌈dim/2⌉ columns and the matching cos in the rest
 * (halves, not interleaved). The model reads it in float32; checkpoints that store it are compared against it.
 */
export function marianSinusoidTable(count: number, dim: number): Float64Array {
  const table = new Float64Array(count * dim);
  const half = Math.ceil(dim / 2);
  for (let pos = 0; pos < count; pos++) {
    for (let j = 0; j < dim; j += 2) {
      table[pos * dim + j / 2] = Math.sin(pos / 10000 ** (j / dim));
      if (j + 1 < dim) table[pos * dim + half + j / 2] = Math.cos(pos / 10000 ** (j / dim));
    }
  }
  return table;
}
