// The network-change journal's state file is read back after a crash and its entries become `ip`, `nft`,
// `iptables` commands and /proc/sys writes: a file of the wrong shape is refused, naming what is wrong,
// instead of being acted on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetJournal } from '../../../src/apps/vpn/netconfig.js';
import { createLogger } from '../../../src/util/log.js';

const dead = 2 ** 22 + 1; // above pid_max's default: no process has it

test('a state file of the wrong shape is refused with its path and the field, and left in place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const j = new NetJournal(dir, 'vpn-client', 'cvpn0', createLogger('test'));
  const cases: Array<[unknown, RegExp]> = [
    [[], /not a JSON object/],
    [{ pid: 'x', changes: [] }, /"pid" must be a whole number/],
    [{ pid: dead, changes: {} }, /"changes" must be an array/],
    [{ pid: dead, changes: [{ kind: 'route', spec: '10.0.0.0/8 dev eth0' }] }, /changes\[0\] is not/],
    [{ pid: dead, changes: [{ kind: 'link', dev: 'x' }, { kind: 'sysctl', path: '/etc/passwd', value: 'x' }] }, /changes\[1\] is not/],
    [{ pid: dead, changes: [{ kind: 'route', spec: ['10.0.0.0/8'], previous: 'x' }] }, /changes\[0\] is not/],
  ];
  for (const [state, why] of cases) {
    writeFileSync(j.path, JSON.stringify(state));
    await assert.rejects(j.recover(), (err: Error) => {
      assert.match(err.message, new RegExp(`state file ${j.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not one this app wrote`));
      assert.match(err.message, why);
      return true;
    });
    assert.ok(existsSync(j.path), 'the file is left for the user to check');
  }
});

test('a well-formed state file of a dead run is undone (here: entries that find nothing to remove) and removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const j = new NetJournal(dir, 'vpn-client', 'cvpn0', createLogger('test'));
  writeFileSync(j.path, JSON.stringify({ app: 'vpn-client', pid: dead, startedAt: '', changes: [{ kind: 'link', dev: 'swt-none-0' }] }));
  assert.equal(await j.recover(), 0, 'the link was not there, so nothing was undone');
  assert.equal(existsSync(j.path), false);
});
