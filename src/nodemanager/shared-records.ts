// What node managers keep in Redis (docs/control-plane.md, Node manager keys): live route records, the route ids
// they hold on each node, and what each node reported. Everything read back from Redis is checked for shape before
// use, as anything from a socket or a file is: another process wrote it, and may be of another version or broken.

/** A live route as stored: enough for any manager to repair or remove it. */
export interface StoredRoute {
  key: string;
  from: string;
  to: string;
  port: number;
  fwd: string[];
  rev: string[];
  /** Route ids each hop receives with (index 0, the sending end, has 0). */
  fwdIds: number[];
  revIds: number[];
  minHops?: number;
  maxHops: number;
  /** Repairs so far: the record's version (an older copy never overwrites a newer one). */
  repairs: number;
  createdAt: number;
  /** The manager that last set it up or repaired it. */
  by: string;
}

export interface TransportReport {
  pk: string;
  latencyMs: number;
}

const PK = /^[0-9a-f]{66}$/;
const MAX_PATH = 65;
/** At most this many transports are taken from one stored report (what a node may report, docs/routing.md). */
export const MAX_STORED_TRANSPORTS = 4096;

function fail(what: string, why: string): never {
  throw new Error(`bad ${what} in Redis: ${why}`);
}

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

function path(what: string, v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.length < 2 || v.length > MAX_PATH) fail(what, `${name} must be a list of 2-${MAX_PATH} keys`);
  for (const n of v) if (typeof n !== 'string' || !PK.test(n)) fail(what, `${name} holds ${JSON.stringify(n).slice(0, 80)}, not a public key`);
  return v as string[];
}

function ids(what: string, v: unknown, name: string, len: number): number[] {
  if (!Array.isArray(v) || v.length !== len) fail(what, `${name} must be a list of ${len} route ids`);
  v.forEach((id, i) => {
    if (!(i === 0 ? id === 0 : isInt(id, 1, 0xffffffff))) fail(what, `${name}[${i}] = ${JSON.stringify(id)} is not a route id`);
  });
  return v as number[];
}

/** Parses and checks a route record read from Redis; throws naming the field that is wrong. */
export function decodeStoredRoute(json: string): StoredRoute {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    fail('route record', 'not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('route record', 'not an object');
  const r = v as Record<string, unknown>;
  const what = `route record ${String(r.key).slice(0, 40)}`;
  if (typeof r.key !== 'string' || !/^[\w-]{1,128}$/.test(r.key)) fail('route record', 'key must be 1-128 letters, digits, _ or -');
  for (const k of ['from', 'to', 'by'] as const) if (typeof r[k] !== 'string' || !PK.test(r[k])) fail(what, `${k} must be a public key`);
  if (!isInt(r.port, 0, 65535)) fail(what, 'port must be 0-65535');
  const fwd = path(what, r.fwd, 'fwd');
  const rev = path(what, r.rev, 'rev');
  if (fwd[0] !== r.from || fwd[fwd.length - 1] !== r.to || rev[0] !== r.to || rev[rev.length - 1] !== r.from) fail(what, 'paths do not join its ends');
  if (r.minHops !== undefined && !isInt(r.minHops, 1, 64)) fail(what, 'minHops must be 1-64');
  if (!isInt(r.maxHops, 1, 64)) fail(what, 'maxHops must be 1-64');
  if (!isInt(r.repairs, 0, 1e9)) fail(what, 'repairs must be a count');
  if (!isInt(r.createdAt, 0, 1e15)) fail(what, 'createdAt must be a time in ms');
  return {
    key: r.key,
    from: r.from as string,
    to: r.to as string,
    port: r.port,
    fwd,
    rev,
    fwdIds: ids(what, r.fwdIds, 'fwdIds', fwd.length),
    revIds: ids(what, r.revIds, 'revIds', rev.length),
    ...(r.minHops !== undefined ? { minHops: r.minHops as number } : {}),
    maxHops: r.maxHops,
    repairs: r.repairs,
    createdAt: r.createdAt,
    by: r.by as string,
  };
}

/** A node's transports as a manager stored them (bounded; entries of the wrong shape are dropped). */
export function decodeStoredReport(json: string): TransportReport[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    fail('node report', 'not JSON');
  }
  if (!Array.isArray(v)) fail('node report', 'not a list');
  const out: TransportReport[] = [];
  for (const t of v.slice(0, MAX_STORED_TRANSPORTS)) {
    const e = t as Record<string, unknown> | null;
    if (!e || typeof e.pk !== 'string' || !PK.test(e.pk)) continue;
    const l = Number(e.latencyMs);
    out.push({ pk: e.pk, latencyMs: Number.isFinite(l) && l >= 0 ? Math.min(l, 60_000) : 0 });
  }
  return out;
}

/**
 * Writes or deletes a route record atomically (a Lua script runs alone in Redis, so two managers' writes cannot
 * interleave). ARGV: prefix, route key, record JSON ('' deletes it). On write:
 * - an older version (fewer repairs) never overwrites a newer one, nor does another manager's write of the same
 *   version (two managers repairing the route at once: the second learns it before installing anything): 'stale';
 * - every (node, route id) the new paths receive with is claimed in HASH <p>ids:<node> (field id -> route key);
 *   an id claimed by another live route fails the whole write: 'conflict <node> <id> <other key>', nothing changed;
 * - the claims and via-sets of the previous version are released, the new ones added, the record set.
 * So two managers can never both hold the same route id of a node in a live route.
 */
export const PUT_ROUTE_LUA = `
local p, key, rec = ARGV[1], ARGV[2], ARGV[3]
local rk = p .. 'route:' .. key
local function claims(r)
  local out = {}
  for i = 2, #r.fwd do out[#out + 1] = { r.fwd[i], string.format('%d', r.fwdIds[i]) } end
  for i = 2, #r.rev do out[#out + 1] = { r.rev[i], string.format('%d', r.revIds[i]) } end
  return out
end
local function nodes(r)
  local s = {}
  for _, n in ipairs(r.fwd) do s[n] = true end
  for _, n in ipairs(r.rev) do s[n] = true end
  return s
end
local function release(r)
  for _, c in ipairs(claims(r)) do
    if redis.call('HGET', p .. 'ids:' .. c[1], c[2]) == key then redis.call('HDEL', p .. 'ids:' .. c[1], c[2]) end
  end
  for n in pairs(nodes(r)) do redis.call('SREM', p .. 'via:' .. n, key) end
end
local cur = redis.call('GET', rk)
local old = nil
if cur then old = cjson.decode(cur) end
if rec == '' then
  if old then release(old) end
  redis.call('DEL', rk)
  redis.call('SREM', p .. 'routes', key)
  return 'ok'
end
local new = cjson.decode(rec)
if old and (old.repairs > new.repairs or (old.repairs == new.repairs and old.by ~= new.by)) then return 'stale' end
for _, c in ipairs(claims(new)) do
  local owner = redis.call('HGET', p .. 'ids:' .. c[1], c[2])
  if owner and owner ~= key then return 'conflict ' .. c[1] .. ' ' .. c[2] .. ' ' .. owner end
end
if old then release(old) end
for _, c in ipairs(claims(new)) do redis.call('HSET', p .. 'ids:' .. c[1], c[2], key) end
for n in pairs(nodes(new)) do redis.call('SADD', p .. 'via:' .. n, key) end
redis.call('SET', rk, rec)
redis.call('SADD', p .. 'routes', key)
return 'ok'
`;

/** Deletes a lock only if this manager still holds it (it may have expired and been taken by another). */
export const UNLOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Drops one manager's report of a node, and the node from the index when no manager reports it any more. */
export const NODE_GONE_LUA = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
`;

/** One manager's report of a node: its field, the hash's TTL and the index, in one command (KEYS: hash, index). */
export const REPORT_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
`;
