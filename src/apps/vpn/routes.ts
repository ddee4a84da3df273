// Reading the host's routes back as `ip route` arguments, so a route the VPN replaces can be restored
// exactly (gateway, device, protocol, scope, source, metric, multipath) when the VPN stops.
import { execFile } from 'node:child_process';

/** One route from `ip -j route show`: only the fields `ip route replace` needs to recreate it. */
interface RouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  nexthops?: Array<{ gateway?: string; dev?: string; weight?: number; flags?: string[] }>;
}

// A kernel value becomes one argument of `ip` (no shell); still, nothing but plain words goes through.
const WORD = /^[A-Za-z0-9_.:/-]{1,64}$/;
const isWord = (v: unknown): v is string => typeof v === 'string' && WORD.test(v);
const optWord = (v: unknown): boolean => v === undefined || isWord(v);
const isFlags = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((f) => typeof f === 'string'));
const isCount = (v: unknown): boolean => v === undefined || (Number.isInteger(v) && (v as number) >= 0);

function isRoute(r: unknown): r is RouteJson {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
  const o = r as Record<string, unknown>;
  const hopsOk =
    o.nexthops === undefined ||
    (Array.isArray(o.nexthops) &&
      o.nexthops.every((h: unknown) => {
        const n = h as Record<string, unknown>;
        return typeof h === 'object' && h !== null && optWord(n.gateway) && optWord(n.dev) && isCount(n.weight) && isFlags(n.flags);
      }));
  return (
    isWord(o.dst) && optWord(o.type) && optWord(o.gateway) && optWord(o.dev) && optWord(o.protocol) && optWord(o.scope) &&
    optWord(o.prefsrc) && isCount(o.metric) && isFlags(o.flags) && hopsOk
  );
}

/** The arguments of `ip route replace` that recreate `r`. */
export function routeArgs(r: RouteJson): string[] {
  const out: string[] = [];
  if (r.type && r.type !== 'unicast') out.push(r.type);
  out.push(r.dst);
  if (r.nexthops?.length) {
    for (const h of r.nexthops) {
      out.push('nexthop');
      if (h.gateway) out.push('via', h.gateway);
      if (h.dev) out.push('dev', h.dev);
      if (h.weight) out.push('weight', String(h.weight));
      if (h.flags?.includes('onlink')) out.push('onlink');
    }
  } else {
    if (r.gateway) out.push('via', r.gateway);
    if (r.dev) out.push('dev', r.dev);
    if (r.flags?.includes('onlink')) out.push('onlink');
  }
  if (r.protocol) out.push('proto', r.protocol);
  if (r.scope) out.push('scope', r.scope);
  if (r.prefsrc) out.push('src', r.prefsrc);
  if (r.metric) out.push('metric', String(r.metric));
  return out;
}

/**
 * Picks, from `ip -j route show exact <dst>` output, the route that `ip route replace <dst> ...` (metric 0,
 * main table) would overwrite, as arguments that recreate it; undefined when there is none.
 * Throws on output that is not the expected shape (a newer `ip` we do not understand).
 */
export function replacedRoute(json: string): string[] | undefined {
  const list: unknown = JSON.parse(json || '[]');
  if (!Array.isArray(list)) throw new Error('ip -j route show: expected a JSON array');
  for (const r of list) {
    if (!isRoute(r)) throw new Error(`ip -j route show: unexpected route ${JSON.stringify(r).slice(0, 200)}`);
    if (!r.metric) return routeArgs(r);
  }
  return undefined;
}

/** The route `ip route replace <dst>` would overwrite on this host now, as `ip route` arguments. */
export function routeReplacedBy(dst: string): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', '-4', 'route', 'show', 'exact', dst], { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ip route show exact ${dst}: ${(stderr || err.message).trim().split('\n')[0]}`));
      try {
        resolve(replacedRoute(stdout));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
