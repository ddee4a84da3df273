// Every address and CIDR flag (socks-server --allow, vpn-server/vpn-client --subnet, vpn-client --exclude)
// goes through one parser (src/util/cidr.ts): a bad value is one line naming the flag and the value, exit 2,
// before anything starts. Run through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/skywire.js', import.meta.url));
const PK = '02' + randomBytes(32).toString('hex');

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, SIGNAL_CLIENT: 'false' } }, (err, _out, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

const q = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('a bad address or CIDR is one line naming the flag and the value, exit code 2', async () => {
  const cases: Array<[string[], string, string, RegExp]> = [
    // [command and its other options, flag, bad value, the rest of the message]
    [['socks-server'], '--allow', '10.0.0.0/40', /: prefix must be 0-32$/],
    [['socks-server'], '--allow', 'hello', / is not a CIDR such as 10\.0\.0\.0\/8, fd00::\/8 or 127\.0\.0\.1:7180$/],
    [['socks-server'], '--allow', '10.0.0/8', / is not a CIDR such as/],
    [['socks-server'], '--allow', '127.0.0.1:70000', /: port must be 1-65535$/],
    [['socks-server'], '--allow', 'fd00::/129', /: prefix must be 0-128$/],
    [['vpn-server', '--allow', PK], '--subnet', '10.99.0.1/24', / has host bits set; did you mean 10\.99\.0\.0\/24\?$/],
    [['vpn-server', '--allow', PK], '--subnet', '10.99.0.0', / needs a \/PREFIX, e\.g\. 10\.0\.0\.0\/8$/],
    [['vpn-server', '--allow', PK], '--subnet', 'fd00::/64', / is not an IPv4 range \(such as 10\.0\.0\.0\/8\)$/],
    [['vpn-server', '--allow', PK], '--subnet', '10.0.0.0/33', /: prefix must be 0-32$/],
    [['vpn-client', PK], '--subnet', '10.1.0.0/16x', /: prefix must be 0-32$/],
    [['vpn-client', PK], '--subnet', 'ten/8', / is not a CIDR such as 10\.0\.0\.0\/8$/],
    [['vpn-client', PK], '--subnet', '10.1.2.3/16', / has host bits set; did you mean 10\.1\.0\.0\/16\?$/],
    [['vpn-client', PK, '--subnet', '10.1.0.0/16'], '--exclude', '10.1.2', / is not an IPv4 address$/],
    [['vpn-client', PK, '--subnet', '10.1.0.0/16'], '--exclude', '::1', / is not an IPv4 address$/],
  ];
  for (const [pre, flag, value, rest] of cases) {
    const r = await run([...pre, flag, value]);
    const what = `${pre[0]} ${flag} ${value}`;
    assert.equal(r.code, 2, `${what}: exit code (${r.stderr})`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line, got ${r.stderr}`);
    // The line names the flag, then the value as typed: `<cmd>: --subnet "10.99.0.1/24" has host bits set; ...`
    assert.match(r.stderr.trim(), new RegExp(`^(skywire )?${q(pre[0])}: ${q(flag)} "${q(value)}"${rest.source}`), what);
  }
});
