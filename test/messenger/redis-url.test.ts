// --redis redis://HOST:PORT/DB: parsed with defaults, and every mistake is one line naming what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseRedisUrl } from '../../src/util/redis-url.js';
import { CLI } from './helpers.js';

test('redis URLs: host, port and db, with defaults; IPv6 in brackets', () => {
  assert.deepEqual(parseRedisUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl('redis://redis.internal'), { host: 'redis.internal', port: 6379, db: 0 });
  assert.deepEqual(parseRedisUrl('redis://[::1]:7000/'), { host: '::1', port: 7000, db: 0 });
});

test('a bad redis URL says what is wrong', () => {
  const bad: Array<[string, RegExp]> = [
    ['http://x:1/0', /scheme must be redis:\/\//],
    ['redis://user:pw@x:1/0', /credentials/],
    ['redis://x:port/0', /port "port" is not a number/],
    ['redis://x:70000/0', /port 70000 is out of range/],
    ['redis://x:1/16', /database 16 is out of range/],
    ['redis://x:1/a', /database "a" is not a number/],
    ['redis://', /not of the form/],
  ];
  for (const [url, re] of bad) assert.throws(() => parseRedisUrl(url), re, url);
});

test('skywire messenger --redis with a bad URL exits 2 naming the flag', () => {
  const r = spawnSync(process.execPath, [CLI, 'messenger', '--listen', '127.0.0.1:0', '--key', '/nonexistent/k.json', '--redis', 'redis://x:99999/0'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--redis: redis URL "redis:\/\/x:99999\/0": port 99999 is out of range/);
});
