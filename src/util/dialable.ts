// The addresses another machine can dial to reach a listener: a wildcard bind (0.0.0.0, ::) is not one, so it
// becomes each non-loopback interface address; an explicit announce address wins over all of them.
import { networkInterfaces } from 'node:os';
import { formatHostPort, type HostPort } from './hostport.js';

const WILDCARD4 = new Set(['0.0.0.0']);
const WILDCARD6 = new Set(['::', '::0', '0:0:0:0:0:0:0:0']);

export function isWildcardHost(host: string): boolean {
  return WILDCARD4.has(host) || WILDCARD6.has(host);
}

/**
 * "HOST:PORT" strings for the listener bound at `bound` (its real port, after a port-0 bind). A wildcard bind
 * gives each non-internal interface address (IPv4 only for 0.0.0.0; both families for ::, which Node binds
 * dual-stack); IPv6 link-local addresses are left out (they need a zone to dial). With no such interface the
 * loopback address is listed, so the result is never empty and never a wildcard.
 */
export function dialableAddresses(bound: HostPort, announce?: string): string[] {
  if (announce) return [announce];
  if (!isWildcardHost(bound.host)) return [formatHostPort(bound)];
  const v6 = WILDCARD6.has(bound.host);
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && (!v6 || a.address.toLowerCase().startsWith('fe80:'))) continue;
      out.push(formatHostPort({ host: a.address, port: bound.port }));
    }
  }
  return out.length ? out : [formatHostPort({ host: v6 ? '::1' : '127.0.0.1', port: bound.port })];
}
