// The README's "On many machines" recipe, run literally: each machine its own network namespace, joined only
// by routed IP (test/netns/internet.ts), each line run by a shell in its own directory with `skywire` on PATH
// as `npm link` puts it; only the values the commands print (keys) and addresses are put in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, labSkipReason, type Host, type LabProcess } from '../netns/lab.js';
import { Internet } from '../netns/internet.js';
import { readRecipe } from './recipe.js';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const skip = await labSkipReason({ tools: ['nft', 'curl'] });

/** What each long-running command prints once it is ready, and the value the recipe takes from it. */
const READY: Array<[RegExp, RegExp]> = [
  [/^skywire messenger /, /messenger listening on /],
  [/^skywire node-manager /, /node manager public key: ([0-9a-f]{66})/],
  [/^skywire node /, /node public key: ([0-9a-f]{66})/],
  [/^skywire socks-server /, /socks-server: serving mesh port/],
  [/^skywire socks-client /, /socks-client: SOCKS5 on/],
];

test('the README multi-machine recipe works as printed: from keygen to a curl through the mesh and a ping', { skip, timeout: 90_000 }, async (t) => {
  const { lines, everyMachine } = readRecipe();
  assert.match(everyMachine.join('\n'), /npm link/, 'the recipe says how skywire gets on PATH');

  const lab = await Lab.create();
  const dirs: string[] = [];
  t.after(async () => {
    await lab.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  // `npm link` puts a `skywire` command on PATH that runs dist/src/cli/skywire.js: the same, in a directory of ours.
  const bin = mkdtempSync(join(tmpdir(), 'skywire-bin-'));
  dirs.push(bin);
  writeFileSync(join(bin, 'skywire'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, SIGNAL_CLIENT: '' };

  const net = await Internet.create(lab);
  const machines = new Map<string, { host: Host; ip: string; dir: string }>();
  for (const name of ['S', 'A', 'B', 'C', 'web']) {
    const { host, ip } = await net.publicHost(name);
    const dir = mkdtempSync(join(tmpdir(), `skywire-machine-${name}-`));
    dirs.push(dir);
    machines.set(name, { host, ip, dir });
  }
  const web = machines.get('web')!;
  const site = web.host.spawn(process.execPath, ['-e', "require('http').createServer((q, r) => r.end('hello from the web\\n')).listen(8080)"]);

  const values: Record<string, string> = { S_IP: machines.get('S')!.ip };
  const subst = (l: string) =>
    l.replace(/\b(S_IP|MESSENGER_PK|MANAGER_PK|NODE_PK_OF_A)\b/g, (k) => {
      if (!values[k]) throw new Error(`the recipe uses ${k} before a command printed it: ${l}`);
      return values[k];
    }).replace('http://example.com/', `http://${web.ip}:8080/`);
  const sh = (m: { host: Host; dir: string }, line: string): LabProcess => m.host.spawn('sh', ['-c', `cd '${m.dir}' && exec ${line}`], { env });

  for (const { machines: on, line } of lines) {
    for (const name of on) {
      const m = machines.get(name);
      assert.ok(m, `the recipe names machine ${name}`);
      const cmd = subst(line);
      const ready = READY.find(([re]) => re.test(line));
      if (ready) {
        const p = sh(m, cmd);
        const got = await p.waitFor(ready[1], 20_000);
        if (/^skywire messenger /.test(line)) {
          // Item 1 of the issue: a wildcard listener prints addresses other machines can dial.
          assert.doesNotMatch(p.stdout, /0\.0\.0\.0|\[::\]/, 'never prints a wildcard address');
          const mine = new RegExp(`messenger listening on ([0-9a-f]{66})@${m.ip.replace(/\./g, '\\.')}:7110`).exec(p.stdout);
          assert.ok(mine, `the messenger prints PK@${m.ip}:7110:\n${p.stdout}`);
          values.MESSENGER_PK = mine[1];
        } else if (/^skywire node-manager /.test(line)) assert.equal(got[1], values.MANAGER_PK, 'the manager runs with the key made by keygen');
        else if (/^skywire node /.test(line) && name === 'A') assert.equal(got[1], values.NODE_PK_OF_A, 'node A runs with the key made by keygen');
      } else if (/^skywire keygen /.test(line)) {
        const r = await m.host.exec('sh', ['-c', `cd '${m.dir}' && PATH='${env.PATH}' ${cmd}`]);
        assert.equal(r.code, 0, r.stderr);
        const pk = r.stdout.trim();
        assert.match(pk, /^[0-9a-f]{66}$/);
        if (/manager\.json/.test(line)) values.MANAGER_PK = pk;
        if (/node\.json/.test(line) && name === 'A') values.NODE_PK_OF_A = pk;
      } else if (/^curl /.test(line)) {
        // The nodes' transports, the exit's announcement and the manager's graph form on their own: retry the
        // request (bounded) until the mesh carries it, as a person would.
        const end = Date.now() + 30_000;
        let r = await m.host.exec('sh', ['-c', `cd '${m.dir}' && ${cmd}`], 15_000);
        for (let delay = 100; r.code !== 0 && Date.now() < end; delay = Math.min(1000, delay * 2)) {
          await new Promise((res) => setTimeout(res, delay));
          r = await m.host.exec('sh', ['-c', `cd '${m.dir}' && ${cmd}`], 15_000);
        }
        assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
        assert.equal(r.stdout, 'hello from the web\n');
      } else if (/^skywire ping /.test(line)) {
        const r = await m.host.exec('sh', ['-c', `cd '${m.dir}' && PATH='${env.PATH}' ${cmd}`], 20_000);
        assert.equal(r.code, 0, `ping failed: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /\(>= 2 hops\)/);
        assert.match(r.stdout, / 0% loss/);
      } else {
        assert.fail(`the test does not know how to run this recipe line: ${line}`);
      }
    }
  }
  assert.ok(site.running);
  // Machines that reach each other by routed IP get direct transports, not the messenger relay.
  const c = machines.get('C')!;
  const st = await c.host.exec('sh', ['-c', `cd '${c.dir}' && PATH='${env.PATH}' skywire node status --json -k node.json`]);
  assert.equal(st.code, 0, st.stderr);
  const kinds = (JSON.parse(st.stdout) as { transports: Array<{ kind: string }> }).transports.map((x) => x.kind);
  assert.deepEqual(kinds, ['direct', 'direct'], 'C has direct transports to A and B');
});
