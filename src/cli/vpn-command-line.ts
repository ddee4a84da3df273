// The start shared by `skywire vpn-client`, `skywire vpn-server` and their in-node forms: parse the command
// line, build the config, check the privileges, each failure with its exit code and one line on stderr.
import type { Command } from 'commander';
import { parseCommandLine } from './usage.js';
import { vpnPreconditionProblem } from '../apps/vpn/caps.js';

/**
 * An exit code to stop with (--help 0, a usage error 2, no CAP_NET_ADMIN 1), or the parsed options and what
 * `build` made of them (it throws a usage error's message).
 */
export function parseVpnCommand<O, T>(kind: 'vpn-client' | 'vpn-server', program: Command, argv: string[], build: (opts: O, args: string[]) => T): number | { opts: O; built: T } {
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const opts = program.opts<O & Record<string, unknown>>() as O;
  let built: T;
  try {
    built = build(opts, program.args);
  } catch (err) {
    console.error(`${kind}: ${(err as Error).message}`);
    return 2;
  }
  const problem = vpnPreconditionProblem(kind);
  if (problem) {
    console.error(problem);
    return 1;
  }
  return { opts, built };
}
