// Shape checks for the control messages a node receives from its node managers (docs/routing.md): every field
// is checked for type and range before use, so a malformed message is refused with a clear `bad_request`
// instead of throwing somewhere inside the node. Hand-written, like the messenger's checks: node processes
// do not load zod (it costs route throughput, see docs/node.md).
import { ControlError, type ControlMessage } from '../net/control-link.js';

/** Route ids a manager may ask for in one `reserve`, and hold at once (bounds a node's memory per manager). */
export const MAX_RESERVE_PER_REQUEST = 4096;
export const MAX_RESERVED_PER_MANAGER = 65_536;
/** A node appears at most once on each of a route's two paths: two rules, plus slack. */
const MAX_RULES_PER_INSTALL = 8;
const MAX_IDS_PER_REMOVE = 4096;

export interface RouteEndSpec {
  outPk: string;
  outRouteId: number;
  remotePk: string;
  remotePort: number;
  localPort: number;
  initiator: boolean;
}

export type InstallRule =
  | { routeId: number; fromPk: string; kind: 'intermediary'; nextPk: string; nextRouteId: number }
  | { routeId: number; fromPk: string; kind: 'consume'; end: RouteEndSpec }
  | { routeId: number; fromPk: string; kind: 'consume'; reroute: { outPk: string; outRouteId: number } };

function bad(message: string): ControlError {
  return new ControlError('bad_request', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isPkHex(v: unknown): v is string {
  return typeof v === 'string' && /^0[23][0-9a-f]{64}$/.test(v);
}

function pk(v: unknown, name: string): string {
  if (!isPkHex(v)) throw bad(`${name} must be a public key (66 lowercase hex characters)`);
  return v;
}

function routeId(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff) throw bad(`${name} must be a route id 1-4294967295`);
  return v;
}

function port(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw bad(`${name} must be a port 1-65535`);
  return v;
}

export function routeKey(m: ControlMessage): string {
  const k = m.routeKey;
  if (typeof k !== 'string' || !k || k.length > 128) throw bad('routeKey must be a non-empty string (at most 128 characters)');
  return k;
}

export function reserveCount(m: ControlMessage): number {
  const c = m.count;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_RESERVE_PER_REQUEST) {
    throw bad(`count must be an integer 1-${MAX_RESERVE_PER_REQUEST}`);
  }
  return c;
}

export function removeReason(m: ControlMessage): string {
  return typeof m.reason === 'string' && m.reason ? m.reason.slice(0, 300) : 'route removed by the node manager';
}

export function routeIds(m: ControlMessage): number[] {
  if (!Array.isArray(m.ids) || m.ids.length > MAX_IDS_PER_REMOVE) throw bad(`ids must be a list of at most ${MAX_IDS_PER_REMOVE} route ids`);
  return m.ids.map((id, i) => routeId(id, `ids[${i}]`));
}

/** The rules of an `install`, all checked before any is used. */
export function installRules(m: ControlMessage): InstallRule[] {
  const rules = m.rules;
  if (!Array.isArray(rules) || !rules.length || rules.length > MAX_RULES_PER_INSTALL) {
    throw bad(`rules must be a list of 1-${MAX_RULES_PER_INSTALL} rules`);
  }
  return rules.map((r: unknown, i): InstallRule => {
    const at = `rules[${i}]`;
    if (!isObject(r)) throw bad(`${at} must be an object`);
    const base = { routeId: routeId(r.routeId, `${at}.routeId`), fromPk: pk(r.fromPk, `${at}.fromPk`) };
    if (r.kind === 'intermediary') {
      return { ...base, kind: 'intermediary', nextPk: pk(r.nextPk, `${at}.nextPk`), nextRouteId: routeId(r.nextRouteId, `${at}.nextRouteId`) };
    }
    if (r.kind !== 'consume') throw bad(`${at}.kind must be "intermediary" or "consume"`);
    if (isObject(r.reroute)) {
      const x = r.reroute;
      return { ...base, kind: 'consume', reroute: { outPk: pk(x.outPk, `${at}.reroute.outPk`), outRouteId: routeId(x.outRouteId, `${at}.reroute.outRouteId`) } };
    }
    if (!isObject(r.end)) throw bad(`${at} (consume) needs an "end" or a "reroute" object`);
    const e = r.end;
    if (typeof e.initiator !== 'boolean') throw bad(`${at}.end.initiator must be a boolean`);
    return {
      ...base,
      kind: 'consume',
      end: {
        outPk: pk(e.outPk, `${at}.end.outPk`),
        outRouteId: routeId(e.outRouteId, `${at}.end.outRouteId`),
        remotePk: pk(e.remotePk, `${at}.end.remotePk`),
        remotePort: port(e.remotePort, `${at}.end.remotePort`),
        localPort: port(e.localPort, `${at}.end.localPort`),
        initiator: e.initiator,
      },
    };
  });
}

/** The manager's answer to a `dial`: the key of the route it installed. */
export function dialReply(m: ControlMessage): string {
  return routeKey(m);
}
