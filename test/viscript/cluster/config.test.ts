// The cluster section of config.yaml: what is accepted, and errors naming the file, line, key and value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/viscript/config.js';

const PK = '02' + 'ab'.repeat(32);
const PK2 = '03' + 'cd'.repeat(32);
const M = `${PK}@127.0.0.1:8100`;

test('a hub and agent section is read, keys resolved beside the file and lower-cased', () => {
  const c = parseConfig(`cluster:\n  key: k.json\n  messengers: ["${M}"]\n  hubs: ["${PK2.toUpperCase().replace(/^03/, '03')}"]\n  machines:\n    m1: "${PK}"\n`, '/etc/v/config.yaml');
  assert.equal(c.cluster?.keyFile, '/etc/v/k.json');
  assert.deepEqual(c.cluster?.hubs, [PK2]);
  assert.deepEqual([...c.cluster!.machines], [['m1', PK]]);
  assert.equal(c.cluster?.acceptDeploy, true);
});

test('cluster errors name the file, line, key and value', () => {
  const err = (yaml: string) => {
    try {
      parseConfig(yaml, '/x/config.yaml');
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('accepted');
  };
  assert.match(err(`cluster:\n  key: k.json\n  messengers: ["${M}"]\n  hubs: ["02abc"]\n`), /^\/x\/config\.yaml:4: cluster\.hubs\.0: "02abc" must be a public key/);
  assert.match(err(`cluster:\n  key: k.json\n  messengers: []\n`), /^\/x\/config\.yaml:3: cluster\.messengers: \[\] needs at least one messenger/);
  assert.match(err(`cluster:\n  key: k.json\n  messengers: ["${M}"]\n  machines:\n    "1bad": "${PK}"\n`), /config\.yaml:5: cluster\.machines\.1bad: bad name: machine names start with a letter/);
  assert.match(err(`cluster:\n  key: k.json\n  messengers: ["${M}"]\n  machines:\n    a: "${PK}"\n    b: "${PK}"\n`), /config\.yaml:6: cluster\.machines\.b: ".*" is already the key of machine a/);
  assert.match(err(`cluster:\n  key: k.json\n  messengers: ["${M}"]\n  hub: []\n`), /config\.yaml:4: cluster\.hub: unknown key \(known keys: key, messengers, hubs, machines, acceptDeploy\)/);
  assert.match(err(`cluster:\n  messengers: ["${M}"]\n`), /config\.yaml:2: cluster\.key: is required but missing/);
});

test('pushed definitions beside the config replace its apps, with their origin; a damaged file is ignored', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { deployedFile, loadConfig } = await import('../../../src/viscript/config.js');
  const { storeDeployed } = await import('../../../src/viscript/cluster/deployed.js');
  const d = mkdtempSync(join(tmpdir(), 'deployed-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const file = join(d, 'config.yaml');
  writeFileSync(file, 'apps:\n  web:\n    path: ./old\n');
  assert.equal(deployedFile(file), join(d, 'config.deployed.json'));
  assert.throws(() => storeDeployed(file, 'web', { path: '' }, 'hub 02abcdef'), /the definition of web is not valid: path: must not be empty/);
  storeDeployed(file, 'web', { path: './new', default_args: [1] }, 'hub 02abcdef');
  storeDeployed(file, 'extra', { path: 'sleep' }, 'hub 02abcdef');
  const c = loadConfig(file);
  assert.equal(c.apps.get('web')?.path, './new');
  assert.deepEqual(c.apps.get('web')?.default_args, ['1']);
  assert.match(c.apps.get('extra')?.origin ?? '', /^deployed by hub 02abcdef at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  writeFileSync(deployedFile(file), '{"version":1,"apps":{"web":{"hub":"x","at":1,"app":{"path":5}}}}');
  const damaged = loadConfig(file);
  assert.equal(damaged.apps.get('web')?.path, './old', 'a damaged file is ignored as a whole');
  assert.equal(damaged.apps.has('extra'), false);
});

test('viscript refuses to start with a cluster key file it cannot use: exit 2, naming the file and key', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runViscript } = await import('../helpers.js');
  const d = mkdtempSync(join(tmpdir(), 'cluster-key-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'bad.json'), 'not a key', { mode: 0o600 });
  const config = join(d, 'config.yaml');
  writeFileSync(config, `cluster:\n  key: bad.json\n  messengers: ["${M}"]\n  hubs: ["${PK2}"]\n`);
  const r = await runViscript(['--config', config, '--headless', '--signal-address', '127.0.0.1:0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^viscript: invalid config: ${config}: cluster\\.key: .*bad\\.json`, 'm'));
});
