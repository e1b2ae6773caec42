import { describeSystemError, invalidOption, isSystemError } from '@encouraging-loss/translate';
import type { Command } from './commands/args.js';
import { benchCommand } from './commands/bench.js';
import { benchBaseCommand } from './commands/bench-base.js';
import { compareCommand } from './commands/compare.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { scoreCommand } from './commands/score.js';
import { trainCommand } from './commands/train.js';
import { translateCommand } from './commands/translate.js';

/** The commands, in the order `el-translate --help` lists them. */
const COMMANDS: Command[] = [
  demoCommand,
  trainCommand,
  compareCommand,
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

/**
 * What the user sees of an error: `[CODE] message`. An `EncouragingLossError` keeps its code (INVALID_OPTION,
 * INVALID_DATA, IO_ERROR); a file-system error that slipped through becomes IO_ERROR naming the path; anything
 * else is a bug in el-translate and says so, with its stack.
 */
function formatError(error: unknown): string {
  if (isSystemError(error)) {
    const where = error.path ? ` ${error.path}` : '';
    return `[IO_ERROR] ${error.syscall ?? 'file operation'}${where} failed: ${describeSystemError(error)}.`;
  }
  const e = error as Error & { code?: unknown };
  if (e instanceof Error && e.name === 'EncouragingLossError' && typeof e.code === 'string') {
    return `[${e.code}] ${e.message}`;
  }
  return `[INTERNAL_ERROR] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\nThis is a bug in el-translate: please report it with the command line.`;
}

// `pnpm el-translate …` (the workspace root's script) runs at the root; resolve paths against the folder the
// command was typed in, which pnpm passes as INIT_CWD.
if (process.env.npm_lifecycle_event === 'el-translate' && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

main(process.argv.slice(2)).catch((error: unknown) => {
  // The code lets scripts tell the cases apart.
  process.stderr.write(`el-translate: ${formatError(error)}\n`);
  process.exitCode = 1;
});
