// `redis://HOST:PORT/DB` as users type it for --redis: checked here so that a typo is one clear line at start,
// not a client retrying a wrong address forever. No credentials in the URL: keep Redis on a private network.

export interface RedisUrl {
  host: string;
  port: number;
  db: number;
}

/** Parses `redis://HOST[:PORT][/DB]` (port 6379 and db 0 by default; IPv6 in brackets). */
export function parseRedisUrl(s: string): RedisUrl {
  const text = String(s).trim();
  const bad = (why: string): never => {
    throw new Error(`redis URL "${text}": ${why} (expected redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0)`);
  };
  if (!text.startsWith('redis://')) bad('the scheme must be redis://');
  if (text.includes('@')) bad('credentials in the URL are not supported');
  const m = /^redis:\/\/(\[[0-9a-fA-F:.]+\]|[^/:@[\]\s]+)(?::([^/]*))?(?:\/([^/]*))?$/.exec(text);
  if (!m) bad('not of the form redis://HOST:PORT/DB');
  const [, rawHost, rawPort, rawDb] = m!;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  let port = 6379;
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort)) bad(`port "${rawPort}" is not a number`);
    port = Number(rawPort);
    if (port < 1 || port > 65535) bad(`port ${port} is out of range 1-65535`);
  }
  let db = 0;
  if (rawDb !== undefined && rawDb !== '') {
    if (!/^\d{1,2}$/.test(rawDb)) bad(`database "${rawDb}" is not a number`);
    db = Number(rawDb);
    if (db > 15) bad(`database ${db} is out of range 0-15`);
  }
  return { host, port, db };
}
