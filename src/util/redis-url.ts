// `--redis redis://HOST:PORT/DB`: the shared store of the control plane (messengers and node managers).
// Only what we connect with: host, port (default 6379) and database number (default 0). Credentials and TLS
// are refused rather than silently ignored.

export interface RedisUrl {
  host: string;
  port: number;
  db: number;
}

/** Parses `redis://HOST[:PORT][/DB]`; throws an Error naming what is wrong. */
export function parseRedisUrl(s: string): RedisUrl {
  const bad = (why: string): never => {
    throw new Error(`bad Redis URL "${s}": ${why} (expected redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0)`);
  };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return bad('not a URL');
  }
  if (u.protocol !== 'redis:') bad(`the scheme must be redis://, not ${u.protocol}//`);
  if (u.username || u.password) bad('credentials in the URL are not supported');
  if (u.search || u.hash) bad('query and fragment are not supported');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) bad('the host is missing');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`port ${u.port} is not 1-65535`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) bad(`the database "${path}" must be a number`);
  const db = path === '' ? 0 : Number(path);
  if (db > 15) bad(`database ${db} is above 15 (Redis has 16 by default)`);
  return { host, port, db };
}
