// What a stranger, a listed hub sending nonsense, and a listed machine answering nonsense can do: real agent
// and hub processes, a real messenger; the other end is a raw client in this test, speaking the protocol by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ControlLink, type ControlMessage } from '../../../src/net/control-link.js';
import { readKeyFile } from '../../../src/net/keys.js';
import { secureAccept, secureConnect } from '../../../src/net/secure.js';
import { MessengerClient } from '../../../src/messenger/client.js';
import { parseMessengerAddress } from '../../../src/messenger/address.js';
import { CLUSTER_PORT } from '../../../src/viscript/cluster/protocol.js';
import { dir, key, machinesOf, startMessenger, startNode, until, writeClusterConfig } from './helpers.js';

async function client(t: { after(fn: () => Promise<void>): void }, keyFile: string, messenger: string): Promise<MessengerClient> {
  const c = new MessengerClient({ localKey: readKeyFile(keyFile), messengers: [parseMessengerAddress(messenger)] });
  t.after(() => c.close());
  await c.start();
  return c;
}

test('an agent: a stranger gets no handshake; a listed hub sending nonsense gets errors and changes nothing', { timeout: 60_000 }, async (t) => {
  const d = dir(t, 'hostile');
  let stop: (() => void) | undefined;
  t.after(() => stop?.());
  const messenger = await startMessenger(d, { onProcess: (s) => (stop = s) });
  const hub = key(d, 'hub');
  const stranger = key(d, 'stranger');
  const agentKey = key(d, 'agent');
  mkdirSync(join(d, 'a'));
  const agent = startNode(t, writeClusterConfig(join(d, 'a'), { keyFile: agentKey.file, messenger, hubs: [hub.pk], acceptDeploy: false }));
  await agent.waitFor((m) => m.type === 'ready');
  await until(agent, 'la', () => agent.stderr.some((l) => /registered with messenger/.test(l)));
  const agentPk = Buffer.from(agentKey.pk, 'hex');

  // A stranger: its stream is closed before act 2; the agent logs its key.
  const s = await client(t, stranger.file, messenger);
  const raw = await s.open(agentKey.pk, CLUSTER_PORT);
  raw.on('error', () => undefined);
  await assert.rejects(secureConnect(raw, agentPk, { localKey: readKeyFile(stranger.file), handshakeTimeoutMs: 5000 }), /before act 2/);
  await until(agent, 'la', () => agent.stderr.some((l) => /refused a cluster stream from a key not in cluster.hubs/.test(l) && l.includes(stranger.pk)));

  // The listed hub, by hand: every malformed request is answered with an error naming the field.
  const h = await client(t, hub.file, messenger);
  const ch = await secureConnect(await h.open(agentKey.pk, CLUSTER_PORT), agentPk, { localKey: readKeyFile(hub.file) });
  const link = new ControlLink(ch, () => undefined);
  t.after(() => link.close());
  const bad = async (m: ControlMessage, re: RegExp) => assert.rejects(link.request(m, 5000), re);
  await bad({ t: 'hello', v: 99 }, /speaks cluster protocol 1, not 99/);
  await bad({ t: 'open', sid: 1, interactive: 'yes' }, /bad "open" request: interactive: /);
  await bad({ t: 'open', sid: -4, interactive: false }, /bad "open" request: sid: /);
  await bad({ t: 'line', sid: 1, text: 'x'.repeat(9000) }, /bad "line" request: text: Too big/);
  await bad({ t: 'line', sid: 7, text: 'la' }, /no session 7/);
  await bad({ t: 'frob' }, /bad "frob" request/);
  await bad({ t: 'deploy', name: '../evil', app: { path: '/bin/sh' } }, /bad "deploy" request: name: /);
  await bad({ t: 'deploy', name: 'evil', app: { path: '/bin/sh' } }, /does not accept deploys \(cluster\.acceptDeploy is false\)/);
  // What the hub's one-shot commands rely on (Hub.runOnce): a line sent right behind its open, unanswered yet,
  // finds the session.
  const opened = link.request({ t: 'open', sid: 40, interactive: false });
  const answered = link.request({ t: 'line', sid: 40, text: 'la' });
  await opened;
  assert.match(((await answered) as unknown as { result: { text: string } }).result.text, /^no apps started/);
  await link.request({ t: 'close', sid: 40 });
  // Sessions are capped per hub.
  for (let sid = 1; sid <= 32; sid++) await link.request({ t: 'open', sid, interactive: false });
  await bad({ t: 'open', sid: 33, interactive: false }, /at most 32 sessions per hub/);
  // ...and the agent still answers and runs nothing it was not asked to.
  const r = (await link.request({ t: 'line', sid: 1, text: 'la' })) as unknown as { result: { text: string } };
  assert.match(r.result.text, /^no apps started/);
  const local = await agent.run('apps');
  assert.doesNotMatch(String(local.text), /evil/);
});

test('a hub: a listed machine answering nonsense is kept offline with the reason; it never crashes the hub', { timeout: 60_000 }, async (t) => {
  const d = dir(t, 'hostile-hub');
  let stop: (() => void) | undefined;
  t.after(() => stop?.());
  const messenger = await startMessenger(d, { onProcess: (s) => (stop = s) });
  const hubKey = key(d, 'hub');
  const fake = key(d, 'fake');
  mkdirSync(join(d, 'h'));
  const hub = startNode(t, writeClusterConfig(join(d, 'h'), { keyFile: hubKey.file, messenger, machines: { m1: fake.pk } }));
  await hub.waitFor((m) => m.type === 'ready');
  // The fake agent answers hello, then a status of the wrong shape, and pushes junk.
  const c = await client(t, fake.file, messenger);
  c.listen(CLUSTER_PORT, (stream) => {
    stream.on('error', () => undefined);
    void secureAccept(stream, { localKey: readKeyFile(fake.file) }).then((ch) => {
      const link: ControlLink = new ControlLink(ch, (m) => {
        link.send({ t: 'output', sid: 'x' });
        link.send({ t: 'event', sid: 1, event: 'boom', text: 5 });
        if (m.t === 'hello') return { v: 1, version: '9' };
        if (m.t === 'status') return { status: { hostname: 5 } };
        return undefined;
      });
      link.on('close', () => undefined);
    }, () => undefined);
  });
  const r = await until(hub, 'lm', (x) => /malformed status: status\.hostname: /.test(machinesOf(x)[0]?.problem ?? ''));
  assert.equal(machinesOf(r)[0].state, 'offline');
  assert.equal((await hub.run('ping m1:2')).ok, false);
  assert.match(String((await hub.run('help')).text), /MACHINE:ID or MACHINE:NAME/);
});
