// The addresses a node announces for direct transports: what it listens on, made dialable (a wildcard bind
// becomes each interface address), plus the public IP the messengers observed with the listen port, so a node
// behind a NAT with that port forwarded (or a public node listening on 0.0.0.0) is reachable without --announce.
import { isIP } from 'node:net';
import { dialableAddresses } from '../util/dialable.js';
import { formatHostPort, parseHostPort, type HostPort } from '../util/hostport.js';

export function announcedAddresses(bound: HostPort | undefined, announce: string | undefined, observed: readonly string[]): string[] {
  if (announce) return [announce];
  if (!bound) return [];
  const out = dialableAddresses(bound);
  // A loopback listener is for this machine only: an observed public address would not reach it.
  if (/^127\.|^::1$/.test(bound.host)) return out;
  for (const o of observed) {
    const { host } = parseHostPort(o);
    if (!isIP(host) || /^127\./.test(host) || host === '::1') continue;
    const a = formatHostPort({ host, port: bound.port });
    if (!out.includes(a)) out.push(a);
  }
  return out;
}
