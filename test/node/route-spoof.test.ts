// A stranger (any key that opens a transport) sends packets for the route ids of a live route: a node acts only
// on packets that arrive from the neighbour each rule was installed for, so the transfer arrives intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { generateKeyPair, pkToHex } from '../../src/net/keys.js';
import { dialSecure } from '../../src/net/tcp.js';
import { parseHostPort } from '../../src/util/hostport.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { encodePacket, PacketType } from '../../src/node/packet.js';
import { RoutingTable } from '../../src/node/routing-table.js';
import { dialRetry, status, testCluster, waitFor, waitTransports } from './harness.js';

const HALF = 4 * 1024 * 1024;

type Rules = Array<{ id: number; kind: string }>;
type Dropped = Record<string, number>;

test('packets for live route ids from a transport the rule was not installed for are dropped; the transfer survives', async (t) => {
  const { c, apps } = testCluster(t);
  await c.startCore();
  const a = await c.node();
  const b = await c.node([a.pk]);
  const cc = await c.node([b.pk]);
  await waitTransports(b, [a.pk, cc.pk]);

  // C's app sends HALF bytes, waits for the attack to be over, sends HALF more and ends.
  const data = randomBytes(2 * HALF);
  let go: () => void = () => {};
  const attackOver = new Promise<void>((r) => (go = r));
  const sender = await AppClient.connect({ apiFile: cc.apiFile, name: 'sender', port: 7 });
  apps.push(sender);
  sender.listen((sock: Socket) => {
    sock.on('error', () => {});
    sock.write(data.subarray(0, HALF));
    void attackOver.then(() => sock.end(data.subarray(HALF)));
  });
  const client = await AppClient.connect({ apiFile: a.apiFile, name: 'client' });
  apps.push(client);
  const sock = await dialRetry(client, cc.pk, 7);
  const h = createHash('sha256');
  let got = 0;
  let halfway: () => void = () => {};
  const firstHalf = new Promise<void>((r) => (halfway = r));
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      h.update(d);
      got += d.length;
      if (got >= HALF) halfway();
    });
    sock.on('end', resolve);
    sock.on('error', reject);
  });
  await firstHalf;

  // The attacker learned every live route id (here: read from the nodes' API) and opens a transport to each node.
  const evil = generateKeyPair();
  const attacks = await Promise.all(
    [a, b, cc].map(async (n) => {
      const s = await status(n.apiFile);
      const ids = (s.rules as Rules).map((r) => r.id);
      assert.ok(ids.length >= 2, `node has the route's rules: ${JSON.stringify(s.rules)}`);
      const { host, port } = parseHostPort(n.info.listen);
      const ch = await dialSecure(host, port, Buffer.from(n.pk, 'hex'), { localKey: evil });
      ch.on('error', () => {});
      ch.resume();
      const packets: Buffer[] = [];
      for (const id of ids) {
        packets.push(encodePacket(PacketType.DATA, id, Buffer.from('injected bytes')));
        packets.push(encodePacket(PacketType.HANDSHAKE, id, randomBytes(50)));
        const counts = Buffer.alloc(16);
        counts.writeBigUInt64BE(1n << 40n, 0);
        packets.push(encodePacket(PacketType.KEEPALIVE, id, counts));
        packets.push(encodePacket(PacketType.CLOSE, id));
        packets.push(encodePacket(PacketType.ERROR, id, Buffer.from('killed by a stranger')));
      }
      await new Promise((r) => ch.write(Buffer.concat([Buffer.from('T'), ...packets]), r));
      return { n, ch, sent: packets.length };
    }),
  );
  // Each node has read every attack packet (its transport from the attacker counts them) before the rest flows.
  const evilPk = pkToHex(evil.publicKey);
  for (const { n, sent } of attacks) {
    await waitFor('the attack packets to be read', async () => {
      const s = await status(n.apiFile);
      const tr = (s.transports as Array<{ pk: string; packetsIn: number }>).find((x) => x.pk === evilPk);
      return !!tr && tr.packetsIn >= sent;
    });
  }
  go();
  await done;
  assert.equal(got, data.length);
  assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
  for (const { n, ch, sent } of attacks) {
    ch.destroy();
    const dropped = (await status(n.apiFile)).dropped as Dropped;
    assert.ok(dropped.wrongTransport >= sent, `node counted ${dropped.wrongTransport} of ${sent} spoofed packets`);
  }
});

test('route ids are random, not consecutive', () => {
  const table = new RoutingTable();
  const ids = [...table.reserve(64), ...table.reserve(64), table.install({ kind: 'consume', routeKey: 'k' }).id];
  assert.equal(new Set(ids).size, ids.length, 'unique');
  assert.ok(ids.every((id) => Number.isInteger(id) && id > 0 && id <= 0xffffffff));
  // Sequential allocation would make each id one more than the last; random 32-bit ids almost never are.
  const steps = ids.slice(1).map((id, i) => id - ids[i]);
  assert.ok(steps.filter((d) => Math.abs(d) <= 1024).length <= 1, `ids too close together: ${ids.join(' ')}`);
  // Two nodes do not hand out the same sequence.
  const other = new RoutingTable().reserve(64);
  assert.ok(other.filter((id) => ids.includes(id)).length <= 1);
});
