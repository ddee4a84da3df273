// Shape checks for the JSON lines apps send to the node's app API (docs/app-api.md). Every field is checked for
// type and range before use; a wrong one is an AppApiError with a one-line message naming the field. Hand-written
// (node processes do not load zod, see docs/node.md).
import { ENTRY_LIMITS } from '../messenger/types.js';
import { AppApiError } from './sdk/errors.js';

/** Services one app may announce (the messenger holds at most ENTRY_LIMITS.services per node). */
export const MAX_SERVICES_PER_APP = 8;

export interface Service {
  name: string;
  port: number;
  attrs?: Record<string, string>;
}

function bad(message: string): AppApiError {
  return new AppApiError('bad_request', message);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return (JSON.stringify(v) ?? String(v)).slice(0, 80);
}

function str(v: unknown, name: string, max: number): string {
  if (typeof v !== 'string' || !v || v.length > max) throw bad(`${name} must be a string of 1-${max} characters, not ${show(v)}`);
  return v;
}

function optionalHops(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 64) throw bad(`${name} must be an integer 1-64, not ${show(v)}`);
  return v;
}

/** The op of a first line or a control line. */
export function op(req: Record<string, unknown>): string {
  if (typeof req.op !== 'string') throw bad(`unknown op ${show(req.op)}`);
  return req.op;
}

/** hello: an optional name, and a port (absent, null or 0 = the node picks one). */
export function hello(req: Record<string, unknown>): { name: string; port: number | undefined } {
  const name = req.name === undefined || req.name === null ? 'app' : str(req.name, 'name', 64);
  const p = req.port;
  if (p === undefined || p === null || p === 0) return { name, port: undefined };
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 2 || p > 65535) {
    throw new AppApiError('bad_port', `port ${show(p)} must be an integer 2-65535`);
  }
  return { name, port: p };
}

export function session(req: Record<string, unknown>): string {
  if (typeof req.session !== 'string') throw bad(`session must be the string the node answered to hello, not ${show(req.session)}`);
  return req.session;
}

export function dial(req: Record<string, unknown>): { pk: string; port: number; minHops?: number; maxHops?: number } {
  const pk = req.pk;
  if (typeof pk !== 'string' || !/^[0-9a-fA-F]{66}$/.test(pk)) throw bad(`${show(pk)} is not a public key (66 hex characters)`);
  const port = req.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad(`port ${show(port)} is out of range 1-65535`);
  }
  return { pk: pk.toLowerCase(), port, minHops: optionalHops(req.minHops, 'minHops'), maxHops: optionalHops(req.maxHops, 'maxHops') };
}

export function acceptId(req: Record<string, unknown>): string {
  return str(req.id, 'id', 32);
}

export function transports(req: Record<string, unknown>): { action: string; pk?: string } {
  const action = req.action === undefined ? 'ls' : req.action;
  if (action !== 'ls' && action !== 'add' && action !== 'rm') throw bad(`unknown transports action ${show(action)} (add, rm or ls)`);
  if (req.pk !== undefined && req.pk !== null && typeof req.pk !== 'string') throw bad(`pk must be a string, not ${show(req.pk)}`);
  return { action, pk: (req.pk as string | null | undefined) ?? undefined };
}

/** A request number to echo in the reply: an integer or a short string, else none. */
export function reqId(req: Record<string, unknown>): number | string | undefined {
  const r = req.req;
  if (typeof r === 'number' && Number.isSafeInteger(r)) return r;
  if (typeof r === 'string' && r.length <= 64) return r;
  return undefined;
}

export function announce(req: Record<string, unknown>): { name: string; attrs?: Record<string, string> } {
  const svc = req.service;
  if (!isObject(svc)) throw bad('announce needs service: {"name": "...", "attrs": {...}}');
  const name = str(svc.name, 'service.name', ENTRY_LIMITS.nameChars);
  if (svc.attrs === undefined || svc.attrs === null) return { name };
  if (!isObject(svc.attrs)) throw bad(`service.attrs must be an object of strings, not ${show(svc.attrs)}`);
  const keys = Object.keys(svc.attrs);
  if (keys.length > ENTRY_LIMITS.attrs) throw bad(`service.attrs holds at most ${ENTRY_LIMITS.attrs} attributes`);
  const pairs = keys.map((k): [string, string] => {
    const v = (svc.attrs as Record<string, unknown>)[k];
    if (!k || k.length > ENTRY_LIMITS.attrKeyChars) throw bad(`service.attrs keys must have 1-${ENTRY_LIMITS.attrKeyChars} characters`);
    if (typeof v !== 'string' || v.length > ENTRY_LIMITS.attrValueChars) {
      throw bad(`service.attrs.${k.slice(0, 64)} must be a string of at most ${ENTRY_LIMITS.attrValueChars} characters`);
    }
    return [k, v];
  });
  return { name, attrs: Object.fromEntries(pairs) };
}

export function query(req: Record<string, unknown>): string {
  return str(req.service, 'service', ENTRY_LIMITS.nameChars);
}
