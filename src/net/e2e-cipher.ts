// Which AEAD the end-to-end channel over a route may use (docs/net.md, End-to-end cipher). BOLT #8 fixes
// ChaCha20-Poly1305 for transports; over a route both ends are ours, so two new ends that both have AES hardware
// switch to AES-256-GCM (about twice the rate on AES-NI / ARMv8 crypto CPUs). The switch itself is in
// message-cipher.ts; this file only decides what this node offers.
import { readFileSync } from 'node:fs';

export type E2eCipherMode = 'auto' | 'aes-256-gcm' | 'chacha20-poly1305' | 'legacy';
export const E2E_CIPHER_ENV = 'SKYWIRE_E2E_CIPHER';
const MODES: readonly E2eCipherMode[] = ['auto', 'aes-256-gcm', 'chacha20-poly1305', 'legacy'];

export interface CipherNegotiation {
  /** Take part in the negotiation at all (false: behave exactly as a node from before it, for tests). */
  negotiate: boolean;
  /** Offer AES-256-GCM, and switch to it when the peer offers it too. */
  preferAes: boolean;
}

/** True when /proc/cpuinfo text lists the AES instructions: `aes` in x86 `flags` or in arm64 `Features`. */
export function cpuinfoHasAes(cpuinfo: string): boolean {
  for (const line of cpuinfo.split('\n')) {
    const m = /^(flags|Features)\s*:(.*)$/.exec(line);
    if (m && m[2].split(/\s+/).includes('aes')) return true;
  }
  return false;
}

let hardware: boolean | undefined;
/** AES in hardware on this machine (Linux: /proc/cpuinfo; macOS on Apple silicon always has it; else no). */
export function hasAesHardware(): boolean {
  if (hardware !== undefined) return hardware;
  if (process.platform === 'darwin') hardware = process.arch === 'arm64';
  else {
    try {
      hardware = cpuinfoHasAes(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      hardware = false;
    }
  }
  return hardware;
}

/**
 * This node's part of the negotiation from SKYWIRE_E2E_CIPHER: `auto` (default; AES-256-GCM if the CPU has AES),
 * `aes-256-gcm` (offer it even without hardware), `chacha20-poly1305` (never offer it), `legacy` (do not
 * negotiate: what a node from before the negotiation does, for compatibility tests). Throws naming a bad value.
 */
export function e2eCipherPolicy(env: NodeJS.ProcessEnv = process.env): CipherNegotiation {
  const raw = env[E2E_CIPHER_ENV];
  const mode = (raw === undefined || raw === '' ? 'auto' : raw) as E2eCipherMode;
  if (!MODES.includes(mode)) {
    throw new Error(`${E2E_CIPHER_ENV}=${JSON.stringify(raw)} is not one of ${MODES.join(', ')}`);
  }
  if (mode === 'legacy') return { negotiate: false, preferAes: false };
  return { negotiate: true, preferAes: mode === 'aes-256-gcm' || (mode === 'auto' && hasAesHardware()) };
}
