// How every skywire command reads its command line: one exit code for every usage error (2, as hand-written
// checks use), 0 for --help and --version, and an unknown option reported before a missing required one
// (commander checks the required ones first, so `node --bogus` used to complain about --key).
import { Command, CommanderError, type Option } from 'commander';
import { EXAMPLES } from './examples.js';

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
  program.configureHelp({ optionDescription: describeOption });
  const examples = EXAMPLES[program.name()];
  if (examples) program.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`);
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

/** An option's help line with its default as text: `127.0.0.1:1080`, not JSON; no `[]` or `false` noise. */
function describeOption(option: Option): string {
  const d: unknown = option.defaultValue;
  const text =
    option.defaultValueDescription ??
    (d === undefined || d === false || (Array.isArray(d) && d.length === 0)
      ? undefined
      : isHostPort(d)
        ? `${d.host.includes(':') ? `[${d.host}]` : d.host}:${d.port}`
        : typeof d === 'string'
          ? d
          : JSON.stringify(d));
  return text === undefined ? option.description : `${option.description} (default: ${text})`;
}

function isHostPort(v: unknown): v is { host: string; port: number } {
  return typeof v === 'object' && v !== null && typeof (v as { host?: unknown }).host === 'string' && typeof (v as { port?: unknown }).port === 'number';
}
