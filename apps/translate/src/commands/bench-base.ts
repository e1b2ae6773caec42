import { runFineTuneBench } from '../../bench/fine-tune-bench.js';
import { backend, type Command, parseCommand, positiveInteger } from './args.js';

const usage = `el-translate bench-base — the trainer's fine-tuning step at OPUS-MT base size (random init, synthetic data)

  el-translate bench-base [--max-tokens 2000] [--steps 3] [--accumulate 1] [--freeze-embeddings]
                          [--chunk-tokens N] [--backend wasm|cpu]

d_model 512, 6 + 6 layers, 8 heads, ffn 2048, vocabulary 58101 (≈ 74M parameters), CEL ε=0.1. Prints one JSON
object (tokens/s, step times, peak RSS, wasm heap) to stdout; run it under flock /tmp/bench.lock.
`;

/** `el-translate bench-base`. */
export const benchBaseCommand: Command = {
  name: 'bench-base',
  summary: 'fine-tuning step time and peak memory at OPUS-MT base size',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      'max-tokens': { type: 'string' },
      steps: { type: 'string' },
      accumulate: { type: 'string' },
      'chunk-tokens': { type: 'string' },
      'freeze-embeddings': { type: 'boolean', default: false },
      backend: { type: 'string' },
    });
    if (!values) return;
    const result = await runFineTuneBench({
      maxTokens: positiveInteger(values['max-tokens'], 'max-tokens', 2000),
      steps: positiveInteger(values.steps, 'steps', 3),
      accumulate: positiveInteger(values.accumulate, 'accumulate', 1),
      chunkTokens: values['chunk-tokens']
        ? positiveInteger(values['chunk-tokens'], 'chunk-tokens', 1)
        : undefined,
      freezeEmbeddings: values['freeze-embeddings'],
      backend: backend(values.backend),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
};
