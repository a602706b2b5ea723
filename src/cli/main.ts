/**
 * `journal-id <command>` (also `npm run cli -- <command>`). Bad input prints one message and
 * exits non-zero; nothing is half-written (each command is one transaction or one insert).
 */
import { loadConfig } from '../config/index.js';
import { serve } from './serve.js';
import { COMMANDS as BASE_COMMANDS, UsageError, usage as baseUsage } from './commands.js';
import { SCHOOL_COMMANDS, SCHOOL_USAGE } from './school-commands.js';

const COMMANDS = { ...BASE_COMMANDS, ...SCHOOL_COMMANDS };
const usage = () => baseUsage() + SCHOOL_USAGE;

async function main(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  if (!group || group === 'help' || group === '--help' || group === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const config = loadConfig();
  if (group === 'serve') return serve(config, [sub, ...rest].filter((a): a is string => a !== undefined));
  const command = COMMANDS[`${group} ${sub ?? ''}`.trim()] ?? COMMANDS[group];
  if (!command) throw new UsageError(`unknown command "${[group, sub].filter(Boolean).join(' ')}"`);
  const args = COMMANDS[`${group} ${sub ?? ''}`.trim()] ? rest : [sub, ...rest].filter((a): a is string => a !== undefined);
  return command(config, args);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: Error) => {
    // Errors of the person's input or environment: one line. Anything else is a bug: the stack.
    const known = ['ConfigError', 'UsageError', 'AccountInputError', 'CliError', 'DataDirInUseError', 'IssueError'].includes(err.name);
    process.stderr.write(`journal-id: ${known ? err.message : (err.stack ?? err.message)}\n`);
    if (err instanceof UsageError) process.stderr.write('run "journal-id help" for the list of commands\n');
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
