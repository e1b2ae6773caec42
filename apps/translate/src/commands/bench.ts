import { runBench } from '../training/bench.js';
import { type Command, parseCommand } from './args.js';

const usage = `el-translate bench — training-step time of EL and CEL against CE

  el-translate bench [--out bench]
`;

/** `el-translate bench`. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'training-step time of EL and CEL against CE',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, { out: { type: 'string' } });
    if (!values) return;
    await runBench({ out: values.out ?? 'bench' });
  },
};
