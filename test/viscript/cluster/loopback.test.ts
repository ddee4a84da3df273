// A hub and two agents on this machine through a real `skywire messenger`: machines come online, commands run
// on another machine print what they print locally, and the trust lists are enforced both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { VISCRIPT_CLI } from '../helpers.js';
import { dir, key, machinesOf, startMessenger, startNode, stateOf, until, writeClusterConfig } from './helpers.js';

test('hub and agents over a real messenger: lm, remote verbs, refusals both ways', { timeout: 60_000 }, async (t) => {
  const d = dir(t);
  let stopMessenger: (() => void) | undefined;
  t.after(() => stopMessenger?.());
  const messenger = await startMessenger(d, { onProcess: (s) => (stopMessenger = s) });
  const hubKey = key(d, 'hub');
  const otherHub = key(d, 'other-hub');
  const a1 = key(d, 'a1');
  const a2 = key(d, 'a2');
  const stranger = key(d, 'stranger');
  const mk = (name: string) => join(d, name);
  const { mkdirSync } = await import('node:fs');
  for (const n of ['hub', 'a1', 'a2', 'stranger', 'other']) mkdirSync(mk(n));

  // a2 lists only another hub: it must refuse ours. `stranger` lists our hub, but our hub does not list it.
  const agent1 = startNode(t, writeClusterConfig(mk('a1'), { keyFile: a1.file, messenger, hubs: [hubKey.pk] }));
  const agent2 = startNode(t, writeClusterConfig(mk('a2'), { keyFile: a2.file, messenger, hubs: [otherHub.pk] }));
  const unlisted = startNode(t, writeClusterConfig(mk('stranger'), { keyFile: stranger.file, messenger, hubs: [hubKey.pk] }));
  const hubConfig = writeClusterConfig(mk('hub'), { keyFile: hubKey.file, messenger, machines: { m1: a1.pk, m2: a2.pk } });
  const hub = startNode(t, hubConfig);
  for (const v of [agent1, agent2, unlisted, hub]) await v.waitFor((m) => m.type === 'ready');

  const lm = await until(hub, 'lm', (r) => stateOf(r, 'm1') === 'online');
  assert.equal(lm.ok, true);
  assert.match(String(lm.text), /^MACHINE\s+PK\s+STATE/);
  assert.match(String(lm.text), /m1 .* online .* 0\/1 /);

  // m2 refuses this hub (not in its cluster.hubs), says so in its log, and the hub says why it is offline.
  const refused = await until(hub, 'lm', (r) => /refused this hub/.test(machinesOf(r).find((m) => m.name === 'm2')?.problem ?? ''));
  assert.equal(stateOf(refused, 'm2'), 'offline');
  await until(hub, 'ping m2:2', (r) => r.ok === false && /m2 is offline .*refused this hub/.test(String(r.text)));
  assert.ok(agent2.stderr.some((l) => /refused a cluster stream from a key not in cluster.hubs/.test(l) && l.includes(hubKey.pk)), agent2.stderr.join('\n'));

  // The unlisted machine's wake datagrams are refused and logged by the hub; it never appears in lm.
  await until(hub, 'lm', () => hub.stderr.some((l) => /refused a machine not in cluster.machines/.test(l) && l.includes(stranger.pk)));
  assert.deepEqual(machinesOf(await hub.run('lm')).map((m) => m.name), ['m1', 'm2']);

  // Remote verbs print what the agent prints locally.
  const started = await hub.run('s m1:ticker');
  assert.equal(started.ok, true, String(started.text));
  assert.equal(started.machine, 'm1');
  const local = await agent1.run('la');
  assert.match(String(started.text), /^started ticker with id 2 \(pid \d+\)$/);
  const ping = await until(hub, 'ping m1:2', (r) => r.ok === true);
  assert.match(String(ping.text), /^pong from 2 \(ticker\) in [\d.]+ ms$/);
  // One-shot `logs -f` on another machine streams its lines (JSON: each with the machine) until interrupted.
  const follow = spawn(process.execPath, [VISCRIPT_CLI, '--config', hubConfig, '--json', '-c', 'logs m1:2 -n 0 -f'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => follow.kill('SIGKILL'));
  const streamed = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: follow.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      if (m.type === 'output') resolve(m);
    });
    follow.once('exit', (code) => reject(new Error(`viscript -c exited (${code}) before any output`)));
  });
  assert.equal(streamed.machine, 'm1');
  assert.equal(streamed.id, 2);
  assert.match(String(streamed.text), /^tick \d+$/);
  follow.kill('SIGINT');
  const remoteApps = await hub.run('apps m1:');
  assert.equal(remoteApps.text, (await agent1.run('apps')).text);
  const la = await hub.run('la @all');
  assert.equal(la.ok, true);
  assert.match(String(la.text), /^MACHINE\s+ID\s+NAME/);
  assert.match(String(la.text), /\nm1\s+2\s+ticker\s+\d+\s+(running|registered)/);
  assert.match(String(la.text), /\nm2 is offline \(not seen since the hub started\): the agent refused this hub/);
  assert.equal((local.data as unknown[]).length, 1);
  // A rolling restart stops at the first machine that fails (m2 refuses this hub): m1 is left alone.
  const pidBefore = ((await hub.run('la m1:')).data as Array<{ pid: number }>)[0].pid;
  const rolled = await hub.run('restart ticker @m2,m1');
  assert.equal(rolled.ok, false);
  assert.match(String(rolled.text), /^m2 is offline .*\nstopped at the first failure: m1 not restarted$/);
  assert.equal(((await hub.run('la m1:')).data as Array<{ pid: number }>)[0].pid, pidBefore);
  // Only the target word names a machine: an app argument with a colon stays the app's (here, the hub's own).
  const localStart = await hub.run('s ticker 300 http://example');
  assert.equal(localStart.ok, true, String(localStart.text));
  assert.equal(localStart.machine, undefined);
  assert.deepEqual((localStart.data as { args: string[] }).args, ['300', 'http://example']);
  const unknown = await hub.run('ping m9:2');
  assert.equal(unknown.ok, false);
  assert.match(String(unknown.text), /no machine named "m9" \(machines: m1, m2; see "lm"\)/);

  // Not a hub: the hub verbs say so.
  const notHub = await agent1.run('lm');
  assert.equal(notHub.ok, false);
  assert.match(String(notHub.text), /not a cluster hub/);
});
