import type { Command } from './commands/args.js';
import { benchCommand } from './commands/bench.js';
import { benchBaseCommand } from './commands/bench-base.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { scoreCommand } from './commands/score.js';
import { trainCommand } from './commands/train.js';
import { translateCommand } from './commands/translate.js';
import { invalidOption } from './errors.js';

/** The commands, in the order `el-translate --help` lists them. */
const COMMANDS: Command[] = [
  demoCommand,
  trainCommand,
  evalCommand,
  scoreCommand,
  translateCommand,
  exportCommand,
  benchCommand,
  benchBaseCommand,
];

const USAGE = `el-translate — fine-tune Marian translation models (the app's own or OPUS-MT / HF Marian folders) with CE,
label-smoothed CE, EL and CEL

  el-translate <command> [flags]      el-translate <command> --help

${COMMANDS.map((c) => `  ${c.name.padEnd(11)}${c.summary}`).join('\n')}
`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return invalidOption(`Unknown command ${name}.\n\n${USAGE}`);
  await command.run(rest);
}

main(process.argv.slice(2)).catch((error: Error & { code?: string }) => {
  // The code of an EncouragingLossError (INVALID_OPTION, INVALID_DATA, …) lets scripts tell the cases apart.
  process.stderr.write(`el-translate: ${error.code ? `[${error.code}] ` : ''}${error.message}\n`);
  process.exitCode = 1;
});
