// The control protocol between a node and a node manager (docs/routing.md, Control messages): every message
// as a type, the constants both sides share, and the shape checks each side runs on what it receives. Messages
// travel on a ControlLink (src/net/control-link.ts: `len u32 | JSON` frames, requests carry an `id`, answers are
// `reply`). Checks are hand-written, like the messenger's: node and manager processes do not load zod (it costs
// route throughput, see docs/node.md). A malformed message is a ControlError `bad_request` naming the field.
import { ControlError, type ControlMessage } from '../net/control-link.js';

/** Port on the messenger where a manager accepts relayed control links. */
export const MANAGER_PORT = 6;
/** Messenger service a node manager announces. */
export const MANAGER_SERVICE = 'skywire-manager';
/** Route ids a manager may ask for in one `reserve`, and hold at once (bounds a node's memory per manager). */
export const MAX_RESERVE_PER_REQUEST = 4096;
export const MAX_RESERVED_PER_MANAGER = 65_536;
/** At most this many transports in one report (a frame may hold 1 MiB; the manager's graph keeps each report). */
export const MAX_REPORTED_TRANSPORTS = 4096;
/** At most this many rules kept from one stats message (nodes send their first 500). */
export const MAX_REPORTED_RULES = 1000;
/** A node appears at most once on each of a route's two paths: two rules, plus slack. */
const MAX_RULES_PER_INSTALL = 8;
const MAX_IDS_PER_REMOVE = 4096;

// ---- node -> manager ----

export type TransportReport = { pk: string; latencyMs: number };
export type HelloMessage = { t: 'hello'; transports: TransportReport[] };
export type TransportsMessage = { t: 'transports'; list: TransportReport[] };
/** Asks for a route from this node's app on `fromPort` to app `port` at node `to`; answered by a DialReply. */
export type DialMessage = { t: 'dial'; to: string; port: number; fromPort: number; minHops?: number; maxHops?: number };
export type DialReply = { routeKey: string; fwd: string[]; rev: string[] };
/** Both directions of a local route end are done. */
export type ClosedMessage = { t: 'closed'; routeKey: string };
/** Traffic counters (the manager's dashboard shows them); a node sends its first 500 rules. */
export type StatsMessage = { t: 'stats'; transports: unknown[]; rules: unknown[] };
/** The counters of a stats message as the manager keeps them (fields beyond these are dropped). */
export type NodeStats = {
  transports: Array<{ pk: string; kind?: string; latencyMs?: number; bytesIn?: number; bytesOut?: number }>;
  /** `signedBytes`: what the next hop signed for of `bytesOut`, when the node meters (docs/metering.md). */
  rules: Array<{ id: number; kind: string; route: string; nextPk?: string; bytesIn: number; bytesOut: number; signedBytes?: number }>;
};
export type NodeMessage = HelloMessage | TransportsMessage | DialMessage | ClosedMessage | StatsMessage;

// ---- manager -> node ----

export type ReserveMessage = { t: 'reserve'; count: number };
export type ReserveReply = { ids: number[] };
export type InstallMessage = { t: 'install'; routeKey: string; rules: InstallRule[] };
export type RemoveMessage = { t: 'remove'; routeKey: string; reason: string };
/** Drops these intermediary rules (the old path of a repaired route). */
export type RemoveIdsMessage = { t: 'removeIds'; ids: number[] };
/** Moves a local route end to its new path, installed just before with `reroute` consume rules. */
export type SwitchMessage = { t: 'switch'; routeKey: string };
export type ManagerMessage = ReserveMessage | InstallMessage | RemoveMessage | RemoveIdsMessage | SwitchMessage;

/** What a route end at the node needs: its first hop, and who is at the far end. */
export type RouteEndSpec = {
  outPk: string;
  outRouteId: number;
  remotePk: string;
  remotePort: number;
  localPort: number;
  initiator: boolean;
};

/** A rule of an install; `fromPk` is the previous hop, the only neighbour whose packets the rule takes. */
export type InstallRule =
  | { routeId: number; fromPk: string; kind: 'intermediary'; nextPk: string; nextRouteId: number }
  | { routeId: number; fromPk: string; kind: 'consume'; end: RouteEndSpec }
  | { routeId: number; fromPk: string; kind: 'consume'; reroute: { outPk: string; outRouteId: number } };

// ---- field checks ----

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

function routeKey(m: ControlMessage): string {
  const k = m.routeKey;
  if (typeof k !== 'string' || !k || k.length > 128) throw bad('routeKey must be a non-empty string (at most 128 characters)');
  return k;
}

function reserveCount(m: ControlMessage): number {
  const c = m.count;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_RESERVE_PER_REQUEST) {
    throw bad(`count must be an integer 1-${MAX_RESERVE_PER_REQUEST}`);
  }
  return c;
}

function removeReason(m: ControlMessage): string {
  return typeof m.reason === 'string' && m.reason ? m.reason.slice(0, 300) : 'route removed by the node manager';
}

function routeIds(m: ControlMessage): number[] {
  if (!Array.isArray(m.ids) || m.ids.length > MAX_IDS_PER_REMOVE) throw bad(`ids must be a list of at most ${MAX_IDS_PER_REMOVE} route ids`);
  return m.ids.map((id, i) => routeId(id, `ids[${i}]`));
}

function installRules(m: ControlMessage): InstallRule[] {
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

// ---- decoding: what a node receives ----

/**
 * A message from a manager, every field checked before any is used; undefined for a verb this node does not know
 * (a request for one is refused, a notification ignored: a newer manager may send more).
 */
export function decodeManagerMessage(m: ControlMessage): ManagerMessage | undefined {
  switch (m.t) {
    case 'reserve':
      return { t: 'reserve', count: reserveCount(m) };
    case 'install':
      return { t: 'install', routeKey: routeKey(m), rules: installRules(m) };
    case 'remove':
      return { t: 'remove', routeKey: routeKey(m), reason: removeReason(m) };
    case 'removeIds':
      return { t: 'removeIds', ids: routeIds(m) };
    case 'switch':
      return { t: 'switch', routeKey: routeKey(m) };
    default:
      if (m.id !== undefined) throw bad(`unknown message ${JSON.stringify(m.t).slice(0, 40)}`);
      return undefined;
  }
}

/** The manager's answer to a `dial`: the key of the route it installed. */
export function decodeDialReply(m: ControlMessage): string {
  return routeKey(m);
}

// ---- decoding: what a manager receives ----
// Any key may open a control link to a manager, so nothing a node sends is trusted to be well formed. Keys are
// taken in either case and lowercased; a latency above a minute is clamped there (the node is as good as gone).

function list(v: unknown, name: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw bad(`${name} must be a list of at most ${max} entries`);
  return v;
}

function entry(v: unknown, name: string): Record<string, unknown> {
  if (!isObject(v)) throw bad(`${name} must be an object`);
  return v;
}

function anyCasePk(v: unknown, name: string): string {
  if (typeof v !== 'string' || !/^0[23][0-9a-fA-F]{64}$/.test(v)) throw bad(`${name} must be a public key (66 hex characters)`);
  return v.toLowerCase();
}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${name} must be an integer ${min}-${max}`);
  return v;
}

function count(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`${name} must be a count (a number >= 0)`);
  return v;
}

function text(v: unknown, name: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw bad(`${name} must be a string of at most ${max} characters`);
  return v;
}

function optional<T>(v: unknown, check: (v: unknown) => T): T | undefined {
  return v === undefined || v === null ? undefined : check(v);
}

function latency(v: unknown, name: string): number | undefined {
  return optional(v, (x) => Math.min(count(x, name), 60_000));
}

function transportList(v: unknown, name: string): TransportReport[] {
  return list(v, name, MAX_REPORTED_TRANSPORTS).map((x, i) => {
    const t = entry(x, `${name}[${i}]`);
    return { pk: anyCasePk(t.pk, `${name}[${i}].pk`), latencyMs: latency(t.latencyMs, `${name}[${i}].latencyMs`) ?? 0 };
  });
}

function stats(m: ControlMessage): NodeStats {
  const transports = list(m.transports, 'transports', MAX_REPORTED_TRANSPORTS).map((x, i) => {
    const t = entry(x, `transports[${i}]`);
    const at = (k: string) => `transports[${i}].${k}`;
    return {
      pk: anyCasePk(t.pk, at('pk')),
      kind: optional(t.kind, (v) => text(v, at('kind'), 32)),
      latencyMs: latency(t.latencyMs, at('latencyMs')),
      bytesIn: optional(t.bytesIn, (v) => count(v, at('bytesIn'))),
      bytesOut: optional(t.bytesOut, (v) => count(v, at('bytesOut'))),
    };
  });
  const rules = list(m.rules, 'rules', MAX_REPORTED_RULES).map((x, i) => {
    const r = entry(x, `rules[${i}]`);
    const at = (k: string) => `rules[${i}].${k}`;
    return {
      id: int(r.id, at('id'), 0, Number.MAX_SAFE_INTEGER),
      kind: text(r.kind, at('kind'), 32),
      route: text(r.route, at('route'), 64),
      nextPk: optional(r.nextPk, (v) => anyCasePk(v, at('nextPk'))),
      bytesIn: count(r.bytesIn, at('bytesIn')),
      bytesOut: count(r.bytesOut, at('bytesOut')),
      signedBytes: optional(r.signedBytes, (v) => count(v, at('signedBytes'))),
    };
  });
  return { transports, rules };
}

/** What a manager keeps of a node's message: `stats` as NodeStats, the others as their message type. */
export type DecodedNodeMessage = Exclude<NodeMessage, StatsMessage> | ({ t: 'stats' } & NodeStats);

function nodeMessage(m: ControlMessage): DecodedNodeMessage {
  const hops = (v: unknown, name: string) => optional(v, (x) => int(x, name, 1, 64));
  switch (m.t) {
    case 'hello':
      return { t: 'hello', transports: transportList(m.transports, 'transports') };
    case 'transports':
      return { t: 'transports', list: transportList(m.list, 'list') };
    case 'dial':
      int(m.id, 'id', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      return {
        t: 'dial',
        to: anyCasePk(m.to, 'to'),
        port: int(m.port, 'port', 0, 65535),
        fromPort: int(m.fromPort, 'fromPort', 0, 65535),
        minHops: hops(m.minHops, 'minHops'),
        maxHops: hops(m.maxHops, 'maxHops'),
      };
    case 'closed':
      return { t: 'closed', routeKey: text(m.routeKey, 'routeKey', 64) };
    case 'stats':
      return { t: 'stats', ...stats(m) };
    default:
      throw bad('t must be one of hello, transports, dial, closed, stats');
  }
}

/** A message from a node, every field checked: a ControlError `bad_request` "bad message "T": FIELD must be ...". */
export function decodeNodeMessage(m: ControlMessage): DecodedNodeMessage {
  try {
    return nodeMessage(m);
  } catch (err) {
    const what = m.t === 'reply' ? 'reply' : `message "${String(m.t).slice(0, 40)}"`;
    throw new ControlError('bad_request', `bad ${what}: ${(err as Error).message}`);
  }
}

/** A node's answer to `reserve` for `asked` ids: 1 to `asked` distinct route ids (0 belongs to the transport). */
export function decodeReserveReply(m: ControlMessage, asked: number): number[] {
  const ids = m.ids;
  if (!Array.isArray(ids) || !ids.length || ids.length > asked) {
    throw new ControlError('bad_reply', `bad reply to "reserve": ids must be a list of 1-${asked} route ids`);
  }
  try {
    const out = ids.map((id, i) => routeId(id, `ids[${i}]`));
    if (new Set(out).size !== out.length) throw bad('route ids must be distinct');
    return out;
  } catch (err) {
    throw new ControlError('bad_reply', `bad reply to "reserve": ${(err as Error).message}`);
  }
}
