// Failover across machines (network namespaces): Redis and two messengers on public hosts, two nodes behind home
// NATs, each "on" a different messenger (the first of its --messenger list). Node B keeps a relayed transport to
// node A (M2 forwards it to M1). kill -9 of M1: A fails over to M2 by itself, and B's transport to A comes back
// through M2 with no action by anyone. The time it takes is measured by bench/messenger/redis-registry.bench.ts.
import { test } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, pkToHex, writeKeyFile } from '../../src/net/keys.js';
import { Internet } from '../netns/internet.js';
import { Lab, labSkipReason, type Host } from '../netns/lab.js';
import { redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { tempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const skip = (await labSkipReason({ tools: ['nft'] })) ?? redisSkipReason();

function messenger(h: Host, key: string, redisUrl: string) {
  const p = h.spawn(process.execPath, [CLI, 'messenger', '--listen', '0.0.0.0:7110', '--key', key, '--redis', redisUrl, '--grace', '3000'], {
    env: { SIGNAL_CLIENT: 'false', LOG_LEVEL: 'info' },
    label: `messenger on ${h.name}`,
  });
  return p;
}

test('kill -9 of the messenger a node uses: the node fails over and is reachable again through the other one', { skip, timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const lab = await Lab.create();
  t.after(() => lab.cleanup());
  const net = await Internet.create(lab);
  const red = await net.publicHost('redis');
  const redis = await startRedis({ bind: '0.0.0.0', prefix: ['ip', 'netns', 'exec', red.host.ns] });
  t.after(() => redis.stop());
  const h1 = await net.publicHost('m1');
  const h2 = await net.publicHost('m2');
  const m1 = messenger(h1.host, join(dir, 'm1.json'), redis.url(red.ip));
  const m2 = messenger(h2.host, join(dir, 'm2.json'), redis.url(red.ip));
  const addr = async (p: typeof m1, ip: string) => (await p.waitFor(/messenger listening on (\S+)@/))[1] + `@${ip}:7110`;
  const [a1, a2] = [await addr(m1, h1.ip), await addr(m2, h2.ip)];

  const ka = generateKeyPair();
  const kb = generateKeyPair();
  writeKeyFile(join(dir, 'a.json'), ka);
  writeKeyFile(join(dir, 'b.json'), kb);
  const homeA = await net.home('a');
  const homeB = await net.home('b');
  const env = { SIGNAL_CLIENT: 'false', LOG_LEVEL: 'info' };
  // "A node on M1": M1 first; it registers there only and keeps M2 as its standby.
  homeA.host.spawn(process.execPath, [CLI, 'node', '--key', join(dir, 'a.json'), '--messenger', a1, '--messenger', a2, '--no-listen'], { env, label: 'node A' });
  const nodeB = homeB.host.spawn(
    process.execPath,
    [CLI, 'node', '--key', join(dir, 'b.json'), '--messenger', a2, '--messenger', a1, '--no-listen', '--relay-only', '--connect', pkToHex(ka.publicKey)],
    { env, label: 'node B' },
  );
  const aShort = pkToHex(ka.publicKey).slice(0, 8);
  const up = new RegExp(`"msg":"transport up","peer":"${aShort}`);
  await nodeB.waitFor(up, 20_000, 'stderr');
  await m2.waitFor(/"msg":"linked to peer messenger"/, 5000, 'stderr'); // B's transport to A is forwarded M2 -> M1

  m1.kill('SIGKILL');
  await m1.exited;
  await nodeB.waitFor(new RegExp(`"msg":"transport down","peer":"${aShort}`), 20_000, 'stderr');
  // Up again: the second "transport up" for A, through M2 where A now is.
  await nodeB.waitFor(new RegExp(`${up.source}[\\s\\S]*${up.source}`), 20_000, 'stderr');
});
