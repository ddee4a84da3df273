// A mesh that is still starting is normal: the SOCKS proxy answers "network unreachable" to the program, and
// the operator's log (default level warn) stays quiet. A real failure still warns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocksClient } from '../../src/apps/socks/client.js';
import { setLogSink } from '../../src/util/log.js';
import { socksConnectReply } from './socks-reply.js';

/** One SOCKS5 CONNECT to 127.0.0.1:9 through the proxy; resolves with the reply code. */
function connectThrough(port: number): Promise<number> {
  return socksConnectReply(port, Buffer.from([1, 127, 0, 0, 1, 0, 9]));
}

test('an exit that is offline, or a node without its manager yet, while the mesh starts is not a warning; an unexpected dial error is', async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  t.after(() => setLogSink((l) => process.stderr.write(l + '\n')));
  for (const [code, rep, warns] of [['offline', 3, false], ['no_route', 3, false], ['no_manager', 1, false], ['boom', 1, true]] as const) {
    lines.length = 0;
    const client = new SocksClient({
      port: 0,
      dial: () => Promise.reject(Object.assign(new Error(`node 02ab is ${code}`), { code })),
    });
    const { port } = await client.listen();
    assert.equal(await connectThrough(port), rep, code);
    await client.close();
    assert.equal(lines.some((l) => l.includes('"level":"warn"')), warns, `${code}: ${lines.join('\n')}`);
  }
});
