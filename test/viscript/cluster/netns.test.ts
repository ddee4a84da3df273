// The acceptance, on machines that are network namespaces: three agents and a hub, each behind its own
// masquerading home router (no open port anywhere), a real `skywire messenger` on a public host. Everything
// goes through the messenger by public key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labSkipReason, type Host } from '../../netns/lab.js';
import { Internet } from '../../netns/internet.js';
import { VISCRIPT_CLI, type Msg } from '../helpers.js';
import { dir, key, machinesOf, startMessenger, startNode, stateOf, until, writeClusterConfig } from './helpers.js';

const skip = await labSkipReason({ tools: ['nft'] });

test('3 agents behind NAT and a hub: lm, remote verbs, la @all, attach, deploy, rolling restart, kill -9', { skip, timeout: 120_000 }, async (t) => {
  const lab = await Lab.create();
  t.after(() => lab.cleanup());
  const net = await Internet.create(lab);
  const d = dir(t, 'netns');
  const s = await net.publicHost('S');
  const messenger = await startMessenger(d, { host: s.host, listen: '0.0.0.0:7110' });
  const hubKey = key(d, 'hub');
  const names = ['m1', 'm2', 'm3'];
  const keys = Object.fromEntries(names.map((n) => [n, key(d, n)]));
  const homes: Record<string, Host> = {};
  for (const n of [...names, 'hub']) homes[n] = (await net.home(n)).host;
  const conf = (n: string, extra: Parameters<typeof writeClusterConfig>[1]) => {
    mkdirSync(join(d, n), { recursive: true });
    return writeClusterConfig(join(d, n), extra);
  };
  const agentConf = Object.fromEntries(names.map((n) => [n, conf(n, { keyFile: keys[n].file, messenger, hubs: [hubKey.pk] })]));
  const agents = Object.fromEntries(names.map((n) => [n, startNode(t, agentConf[n], { host: homes[n] })]));
  // The hub's own ticker definition is what `deploy` pushes: a different label, so the deployed one shows.
  const hubConf = conf('hub', {
    keyFile: hubKey.file,
    messenger,
    machines: Object.fromEntries(names.map((n) => [n, keys[n].pk])),
    apps: ['  ticker:', `    path: ${TICKER_PATH()}`, '    desc: deployed ticker', '    default_args: ["300", "deployed"]'].join('\n'),
  });
  let hub = startNode(t, hubConf, { host: homes.hub });
  for (const v of [...Object.values(agents), hub]) await v.waitFor((m) => m.type === 'ready');

  // lm shows all three online.
  const lm = await until(hub, 'lm', (r) => names.every((n) => stateOf(r, n) === 'online'), 20_000);
  for (const n of names) assert.match(String(lm.text), new RegExp(`\\n${n} .* online .*Linux/`));

  // Verbs on m2 print what they print on m2 itself.
  const m2 = agents.m2;
  const started = await hub.run('s m2:ticker');
  assert.equal(started.text, `started ticker with id 2 (pid ${(started.data as { pid: number }).pid})`);
  const ping = await until(hub, 'ping m2:2', (r) => r.ok === true);
  const localPing = await m2.run('ping 2');
  const shape = (x: Msg) => String(x.text).replace(/[\d.]+ ms/, 'N ms');
  assert.equal(shape(ping), shape(localPing));
  const ru = await hub.run('ru m2:2');
  const localRu = await m2.run('ru 2');
  const ruShape = (x: Msg) => String(x.text).replace(/\d+(\.\d+)?/g, 'N');
  assert.equal(ru.ok, true);
  assert.equal(ruShape(ru), ruShape(localRu));
  await until(hub, 'logs m2:2 -n 2', (r) => /tick 2/.test(String(r.text)));
  const logs = await hub.run('logs m2:2 -n 1');
  assert.match(String(logs.text), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} tick \d+$/);

  // la @all: every app of every machine in one table; --json one-shot from the hub's machine too.
  await hub.run('s m1:ticker');
  await hub.run('s m3:ticker');
  const la = await hub.run('la @all');
  assert.deepEqual((la.data as Array<{ machine: string }>).map((a) => a.machine).sort(), ['m1', 'm2', 'm3']);
  assert.match(String(la.text), /^MACHINE\s+ID\s+NAME\s+PID\s+STATE/);
  const oneShot = await homes.hub.exec(process.execPath, [VISCRIPT_CLI, '--config', hubConf, '-c', 'la @all', '--json']);
  assert.equal(oneShot.code, 0, oneShot.stderr);
  assert.equal((JSON.parse(oneShot.stdout.trim().split('\n').pop()!) as Msg).command, 'list_apps');

  // attach m3:2 is interactive over the mesh: a typed line comes back echoed, Ctrl+Z detaches.
  const att = await hub.run('attach m3:2');
  assert.equal(att.ok, true, String(att.text));
  const from = hub.messages.length;
  hub.send('hello over the mesh');
  const echoed = await hub.waitFor((m) => m.type === 'output' && m.machine === 'm3' && m.text === 'echo: hello over the mesh', from);
  assert.equal(echoed.id, 2);
  const det = await hub.run('\x1a');
  assert.match(String(det.text), /^detached from m3:2$/);

  // sd m2:2 as locally.
  const sd = await hub.run('sd m2:2');
  assert.match(String(sd.text), /^2 \(ticker\) stopped: exited with code 0 after the signal SHUTDOWN$/);

  // deploy then a rolling restart, one machine at a time.
  const dep = await hub.run('deploy ticker @all');
  assert.equal(dep.ok, true, String(dep.text));
  assert.match(String(dep.text), /^m1: stored ticker in .*config\.deployed\.json; the running ticker keeps its old definition/m);
  assert.match(String(dep.text), /^m2: stored ticker in .*; started ticker with id 3/m);
  const apps = await hub.run('apps @all');
  assert.match(String(apps.text), /\nm1\s+ticker\s+deployed ticker\s+deployed by hub [0-9a-f]{8} at /);
  const rolled = await hub.run('restart ticker @all');
  assert.equal(rolled.ok, true, String(rolled.text));
  assert.deepEqual((rolled.data as Array<{ machine: string }>).map((r) => r.machine), names);
  assert.match(String(rolled.text), /^m1: restarted 2 \(ticker\) \(pid \d+\)\nm2: restarted 3 \(ticker\) \(pid \d+\)\nm3: restarted 2 \(ticker\)/);
  await until(hub, 'logs m1:2 -n 1', (r) => / deployed \d+$/.test(String(r.text)));

  // Hub restart: nothing is lost, the agents hold the truth and their apps kept running.
  type Row = { machine: string; id: number; pid?: number; state: string };
  const live = (r: Msg) => (r.data as Row[]).filter((a) => a.state === 'registered').map((a) => `${a.machine}:${a.id}:${a.pid}`).sort();
  const before = live(await until(hub, 'la @all', (r) => live(r).length === 3));
  hub.kill();
  await hub.exited;
  hub = startNode(t, hubConf, { host: homes.hub });
  const after = await until(hub, 'la @all', (r) => Array.isArray(r.data) && (r.data as unknown[]).length === 4, 20_000);
  assert.deepEqual(live(after), before, 'the same apps, same pids, kept running while the hub was gone');

  // kill -9 an agent's Viscript: offline within 5 s, a command to it fails at once; restarted: online, apps listed.
  process.kill(agents.m1.child.pid!, 'SIGKILL');
  await agents.m1.exited;
  await until(hub, 'lm', (r) => stateOf(r, 'm1') === 'offline', 5000);
  const dead = await hub.run('ping m1:2');
  assert.equal(dead.ok, false);
  assert.match(String(dead.text), /^m1 is offline since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: (link lost|not connected to the messenger).*: cannot run "ping 2"$/);
  agents.m1 = startNode(t, agentConf.m1, { host: homes.m1 });
  const back = await until(hub, 'lm', (r) => stateOf(r, 'm1') === 'online', 20_000);
  assert.equal(machinesOf(back).find((m) => m.name === 'm1')?.status?.appsConfigured, 1);
  const appsBack = await hub.run('apps m1:');
  assert.match(String(appsBack.text), /ticker\s+deployed ticker\s+deployed by hub/);
});

function TICKER_PATH(): string {
  return new URL('../../../../examples/apps/ticker.mjs', import.meta.url).pathname;
}
