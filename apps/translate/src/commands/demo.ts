import { parseSeeds, runDemo } from '../demo/demo.js';
import { type Command, number, outputFolder, parseCommand } from './args.js';

const usage = `el-translate demo — base model on a generated general corpus, fine-tuned in-domain with CE, CE ε=0.1,
EL and CEL; writes report.md with charts

  el-translate demo [--quick] [--out runs/demo] [--seed N | --seeds 1,2,3]
`;

/** `el-translate demo`. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'the seeded demo (about 7 minutes; --quick about 1)',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      out: { type: 'string' },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      quick: { type: 'boolean', default: false },
    });
    if (!values) return;
    await runDemo({
      quick: values.quick,
      out: outputFolder(values.out ?? 'runs/demo', 'out'),
      seeds: values.seeds ? parseSeeds(values.seeds) : [number(values.seed, 'seed', 1)],
    });
  },
};
