// Preconditions checked before touching the network: Linux, and CAP_NET_ADMIN (root or a file capability).
import { readFileSync } from 'node:fs';
import { loadTunAddon } from './tun.js';

const CAP_NET_ADMIN = 12;

export function hasNetAdmin(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m ? (BigInt('0x' + m[1]) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n : false;
  } catch {
    return false;
  }
}

/**
 * Returns a one-line reason why this process cannot run the VPN, or undefined when it can.
 * When it can, CAP_NET_ADMIN is also made ambient so the `ip`/`nft` commands we run inherit it.
 */
export function vpnPreconditionProblem(app: string): string | undefined {
  if (process.platform !== 'linux') return `${app}: not supported on ${process.platform} yet (Linux only for now)`;
  if (!hasNetAdmin()) {
    return (
      `${app}: needs the CAP_NET_ADMIN capability to create its TUN device, addresses and routes. ` +
      'Run it as root, or grant it to node once with: sudo setcap cap_net_admin+ep "$(readlink -f "$(which node)")"'
    );
  }
  try {
    loadTunAddon().raiseAmbientNetAdmin();
  } catch (err) {
    return `${app}: ${(err as Error).message}`;
  }
  return undefined;
}
