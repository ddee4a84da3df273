// Entries, services and the validation of what clients announce (all announced data is bounded in size).
// The checks are small hand-written functions, not zod: merely loading zod in a process costs a node about a
// third of its route throughput (docs/messenger.md, "Input checks"), and the client runs inside every node.
import { parseHostPort } from '../util/hostport.js';

export interface Service {
  name: string;
  port: number;
  attrs?: Record<string, string>;
}

export interface Entry {
  /** Public key, 66 hex characters. */
  pk: string;
  /** host:port where the key accepts direct transports. */
  addresses: string[];
  services: Service[];
  /** Unix ms of the last frame received from the key (or of its disconnect). */
  lastSeen: number;
}

/** Caps on what one entry may hold, so a client cannot make the messenger store much. */
export const ENTRY_LIMITS = {
  addresses: 16,
  addressChars: 270,
  services: 32,
  nameChars: 64,
  attrs: 16,
  attrKeyChars: 64,
  attrValueChars: 256,
};

export interface Announce {
  addresses?: string[];
  services?: Service[];
}

/** HELLO: the announce fields and the client's protocol version. */
export interface Hello extends Announce {
  version: number;
}

export interface Query {
  service?: string;
  attr?: { key: string; value: string };
  offset?: number;
  limit?: number;
}

/** The outcome of a check: the value as the messenger keeps it (fields it does not know dropped), or the first
 *  problem found as one line, "path: message" (e.g. "services.0.name: Too big: ..."; "value" for the whole). */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

class Invalid extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function run<T>(check: () => T): Checked<T> {
  try {
    return { ok: true, value: check() };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return { ok: false, error: `${err.path || 'value'}: ${err.message}` };
  }
}

const at = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : 'Infinity';
  return typeof v;
}

function expected(path: string, what: string, v: unknown): never {
  throw new Invalid(path, `Invalid input: expected ${what}, received ${kind(v)}`);
}

function str(v: unknown, path: string, min: number, max: number): string {
  if (typeof v !== 'string') expected(path, 'string', v);
  if (v.length < min) throw new Invalid(path, `Too small: expected string to have >=${min} characters`);
  if (v.length > max) throw new Invalid(path, `Too big: expected string to have <=${max} characters`);
  return v;
}

function int(v: unknown, path: string, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) expected(path, 'number', v);
  if (!Number.isSafeInteger(v)) throw new Invalid(path, 'Invalid input: expected int, received number');
  if (v < min) throw new Invalid(path, `Too small: expected number to be >=${min}`);
  if (v > max) throw new Invalid(path, `Too big: expected number to be <=${max}`);
  return v;
}

function list(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) expected(path, 'array', v);
  if (v.length > max) throw new Invalid(path, `Too big: expected array to have <=${max} items`);
  return v;
}

function object(v: unknown, path: string, what = 'object'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) expected(path, what, v);
  return v as Record<string, unknown>;
}

function checkAddress(v: unknown, path: string): string {
  const s = str(v, path, 0, ENTRY_LIMITS.addressChars);
  try {
    parseHostPort(s);
  } catch {
    throw new Invalid(path, 'address must be HOST:PORT');
  }
  return s;
}

const SERVICE_KEYS = new Set(['name', 'port', 'attrs']);

function checkService(v: unknown, path: string): Service {
  const o = object(v, path);
  const s: Service = {
    name: str(o.name, at(path, 'name'), 1, ENTRY_LIMITS.nameChars),
    port: int(o.port, at(path, 'port'), 0, 65535),
  };
  if (o.attrs !== undefined) s.attrs = checkAttrs(o.attrs, at(path, 'attrs'));
  const unknown = Object.keys(o).filter((k) => !SERVICE_KEYS.has(k));
  if (unknown.length) {
    throw new Invalid(path, `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  return s;
}

function checkAttrs(v: unknown, path: string): Record<string, string> {
  const keys = Object.keys(object(v, path, 'record'));
  if (keys.length > ENTRY_LIMITS.attrs) throw new Invalid(path, `at most ${ENTRY_LIMITS.attrs} attributes`);
  const r = v as Record<string, unknown>;
  const pairs = keys.map((k): [string, string] => {
    if (k.length < 1 || k.length > ENTRY_LIMITS.attrKeyChars) {
      throw new Invalid(path, `Invalid key in record: expected 1-${ENTRY_LIMITS.attrKeyChars} characters, got ${k.length}`);
    }
    return [k, str(r[k], at(path, k), 0, ENTRY_LIMITS.attrValueChars)];
  });
  // Own data properties whatever the key ("__proto__" included): nothing reaches a prototype.
  return Object.fromEntries(pairs);
}

function announceFields(o: Record<string, unknown>): Announce {
  const a: Announce = {};
  if (o.addresses !== undefined) {
    a.addresses = list(o.addresses, 'addresses', ENTRY_LIMITS.addresses).map((x, i) => checkAddress(x, at('addresses', i)));
  }
  if (o.services !== undefined) {
    a.services = list(o.services, 'services', ENTRY_LIMITS.services).map((x, i) => checkService(x, at('services', i)));
  }
  return a;
}

/** ANNOUNCE (and MessengerClient.announce): addresses and services within ENTRY_LIMITS; other fields dropped. */
export function checkAnnounce(v: unknown): Checked<Announce> {
  return run(() => announceFields(object(v, '')));
}

/** HELLO: as ANNOUNCE, plus the integer protocol version. A claimed key or any other field is dropped. */
export function checkHello(v: unknown): Checked<Hello> {
  return run(() => {
    const o = object(v, '');
    return { ...announceFields(o), version: int(o.version, 'version') };
  });
}

export const QUERY_MAX_LIMIT = 100;
export const QUERY_DEFAULT_LIMIT = 50;

/** QUERY: service name, attribute key/value, paging (limit 1-QUERY_MAX_LIMIT); other fields dropped. */
export function checkQuery(v: unknown): Checked<Query> {
  return run(() => {
    const o = object(v, '');
    const q: Query = {};
    if (o.service !== undefined) q.service = str(o.service, 'service', 1, ENTRY_LIMITS.nameChars);
    if (o.attr !== undefined) {
      const a = object(o.attr, 'attr');
      q.attr = {
        key: str(a.key, 'attr.key', 1, ENTRY_LIMITS.attrKeyChars),
        value: str(a.value, 'attr.value', 0, ENTRY_LIMITS.attrValueChars),
      };
    }
    if (o.offset !== undefined) q.offset = int(o.offset, 'offset', 0);
    if (o.limit !== undefined) q.limit = int(o.limit, 'limit', 1, QUERY_MAX_LIMIT);
    return q;
  });
}

/** An entry as a messenger answers a lookup or a query: what the client hands its callers, so it is checked. */
function entryFields(v: unknown, path: string): Entry {
  const o = object(v, path);
  const pk = str(o.pk, at(path, 'pk'), 66, 66);
  if (!/^0[23][0-9a-f]{64}$/.test(pk)) throw new Invalid(at(path, 'pk'), 'expected a public key as 66 lowercase hex characters');
  return {
    pk,
    addresses: list(o.addresses, at(path, 'addresses'), ENTRY_LIMITS.addresses).map((x, i) => checkAddress(x, at(at(path, 'addresses'), i))),
    services: list(o.services, at(path, 'services'), ENTRY_LIMITS.services).map((x, i) => checkService(x, at(at(path, 'services'), i))),
    lastSeen: int(o.lastSeen, at(path, 'lastSeen'), 0),
  };
}

/** A LOOKUP answer: null (not registered) or an entry. */
export function checkLookupAnswer(v: unknown): Checked<Entry | null> {
  return run(() => (v === null ? null : entryFields(v, '')));
}

/** A QUERY answer: at most QUERY_MAX_LIMIT entries and the total count. */
export function checkQueryAnswer(v: unknown): Checked<{ entries: Entry[]; total: number }> {
  return run(() => {
    const o = object(v, '');
    return {
      entries: list(o.entries, 'entries', QUERY_MAX_LIMIT).map((x, i) => entryFields(x, at('entries', i))),
      total: int(o.total, 'total', 0),
    };
  });
}
