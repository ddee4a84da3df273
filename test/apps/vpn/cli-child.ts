// Running the skywire CLI as a child for the VPN commands' CLI tests (the separate apps' and the in-node forms),
// also without CAP_NET_ADMIN: as root, the child's bounding set drops the capability (setpriv, util-linux); as a
// normal user it is missing anyway.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hasNetAdmin } from '../../../src/apps/vpn/caps.js';
import { CLI } from './topology.js';

/** Runs `skywire ARGS` (behind `wrap`, e.g. dropNetAdmin) and resolves with its exit code and output. */
export function runCli(args: string[], wrap: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...pre] = wrap.length ? wrap : [process.execPath];
  const full = wrap.length ? [...pre, process.execPath, CLI, ...args] : [CLI, ...args];
  return new Promise((resolve) => {
    execFile(cmd, full, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const isRoot = process.getuid?.() === 0;

/** The command prefix that starts a child without CAP_NET_ADMIN. */
export const dropNetAdmin: string[] = isRoot ? ['setpriv', '--bounding-set', '-net_admin', '--inh-caps', '-all'] : [];

/** Why such a child cannot be started here, or false. */
export const dropNetAdminSkip: string | false =
  process.platform !== 'linux'
    ? 'Linux only'
    : isRoot && !existsSync('/usr/bin/setpriv')
      ? 'setpriv (util-linux) is needed to drop the capability'
      : !isRoot && hasNetAdmin()
        ? 'this process holds CAP_NET_ADMIN'
        : false;
