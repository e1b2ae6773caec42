import { runBench } from '../../bench/train-bench.js';
import { type Command, parseCommand, positiveInteger } from './args.js';

const usage = `el-translate bench — a training step and decoding against the same model in PyTorch

  el-translate bench [--out bench] [--quick] [--base-batch 8]

The small preset at 2,000 target tokens and OPUS-MT base size (--quick: small only, fewer samples), 1 and 2
threads, alternating with bench/step_bench.py when a python3 with torch is installed. Run it under
flock /tmp/bench.lock on a shared machine.
`;

/** `el-translate bench`. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'training step and decoding time against PyTorch',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'base-batch': { type: 'string' },
    });
    if (!values) return;
    await runBench({
      out: values.out ?? 'bench',
      quick: values.quick,
      baseBatch: positiveInteger(values['base-batch'], 'base-batch', 8),
    });
  },
};
