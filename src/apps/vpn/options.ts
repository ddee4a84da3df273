// Parsing and checking of the VPN apps' command-line values, each failing with a one-line error.
import { readFileSync } from 'node:fs';
import { parseIpAddress } from '../../util/cidr.js';

export const DEFAULT_SUBNET = '10.99.0.0/24';
/** Fits a 1500-byte Internet path with room for outer headers, so traffic leaving the exit is not fragmented. */
export const DEFAULT_MTU = 1400;

const PK_RE = /^(02|03)[0-9a-f]{64}$/;

export function parsePk(text: string, what = 'key'): string {
  const pk = text.trim().toLowerCase();
  if (!PK_RE.test(pk)) throw new Error(`${what} "${text}" is not a public key (66 hex characters starting with 02 or 03)`);
  return pk;
}

/** Keys from --allow values (comma or space separated) and --allow-file files (one per line, # comments). */
export function parseAllowList(values: string[], files: string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const k of v.split(/[\s,]+/).filter(Boolean)) out.add(parsePk(k, '--allow'));
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new Error(`cannot read allow file ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    text.split('\n').forEach((line, i) => {
      const k = line.replace(/#.*/, '').trim();
      if (k) {
        try {
          out.add(parsePk(k));
        } catch (err) {
          throw new Error(`${f}:${i + 1}: ${(err as Error).message}`, { cause: err });
        }
      }
    });
  }
  return out;
}

export function parseMtu(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 576 || n > 65000) throw new Error(`--mtu "${text}" must be a whole number from 576 to 65000`);
  return n;
}

export function parseDevice(text: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(text)) throw new Error(`device name "${text}" must be 1-15 letters, digits, "_", "-" or "."`);
  return text;
}

export function parseIpv4(text: string, what: string): string {
  parseIpAddress(text, what, 4);
  return text.trim();
}

export function parseHops(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`--hops "${text}" must be a whole number from 1 to 16`);
  return n;
}

/** Default of vpn-client's --give-up-after: a new node's transports reach the manager within seconds. */
export const DEFAULT_GIVE_UP_S = 60;

export function parseGiveUp(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new Error(`--give-up-after "${text}" must be a whole number of seconds from 0 (never) to 86400`);
  return n;
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Default of --offload (docs/vpn.md, "Offload": chosen from bench/vpn's before/after figures). */
export const DEFAULT_OFFLOAD = 'on';
export const OFFLOAD_HELP = 'TUN offloads: the kernel hands the VPN TCP segments of up to 62 KB, checksums left to the far end (on | off)';

export function parseOffload(text: string): boolean {
  if (text !== 'on' && text !== 'off') throw new Error(`--offload "${text}" must be on or off`);
  return text === 'on';
}
