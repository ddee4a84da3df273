// How every skywire command reads its command line: one exit code for every usage error (2, as hand-written
// checks use), 0 for --help and --version, and an unknown option reported before a missing required one
// (commander checks the required ones first, so `node --bogus` used to complain about --key).
import { Command, CommanderError } from 'commander';

export const USAGE_EXIT = 2;

/** The exit code for what commander threw: 0 after --help / --version, USAGE_EXIT for any usage error. */
export function commanderExit(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : USAGE_EXIT;
}

/** The first option-like word of `argv` that `program` does not know, if any. */
export function firstUnknownOption(program: Command, argv: string[]): string | undefined {
  const known = new Map<string, boolean>(); // flag -> takes a value
  for (const o of program.options) for (const f of [o.short, o.long]) if (f) known.set(f, o.required || o.optional);
  for (const f of ['-h', '--help', '-V', '--version']) if (!known.has(f)) known.set(f, false);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') return undefined;
    if (!word.startsWith('-') || word === '-') continue;
    const flag = word.startsWith('--') ? word.split('=')[0] : word.slice(0, 2);
    if (!known.has(flag)) return flag;
    // A value given as the next word is not an option, whatever it looks like.
    if (known.get(flag) && !word.includes('=') && (word.startsWith('--') || word.length === 2)) i++;
  }
  return undefined;
}

/**
 * Parses `argv` into `program`. Returns the exit code when the command should stop (help, version, a usage
 * error, already reported on stderr as `<name>: error: ...`), or undefined to go on.
 */
export function parseCommandLine(program: Command, argv: string[]): number | undefined {
  program.exitOverride().configureOutput({
    writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `${program.name()}: ${s}` : s),
  });
  try {
    const unknown = program.commands.length ? undefined : firstUnknownOption(program, argv);
    if (unknown !== undefined) program.error(`error: unknown option '${unknown}'`, { code: 'commander.unknownOption', exitCode: USAGE_EXIT });
    program.parse(argv, { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err);
    throw err;
  }
}
