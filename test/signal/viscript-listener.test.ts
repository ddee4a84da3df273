// The signal listener inside a real `viscript` process (issue 17): REG bodies of every wrong shape, a PING flood
// that never reads and a burst of refused connections. Viscript survives, logs the refusals once (not once
// each), and then starts, pings and stops a legitimate signal client as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePing } from '../../src/signal/frames.js';
import { startViscript, tempDir, writeConfig, type Msg } from '../viscript/helpers.js';
import { closed, fixture, rawConnect, regFrame } from './helpers.js';

test('a real Viscript refuses wrong-shaped REGs and a non-reading PING flood, logs that once, and serves its app', async (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, `apps:\n  app:\n    path: ${JSON.stringify(fixture('client-app.js'))}\nsettings:\n  shutdownGraceMs: 2000\n`);
  const v = startViscript(['--config', file, '--exit-on-eof'], { env: { LOG_LEVEL: 'warn' } });
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  const port = Number(String(ready.signalAddress).split(':').pop());

  const bodies = ['null', '[]', '1', '"x"', 'true', '', '{}', '{"Id":"x"}', '{"Id":-1}', '{"Id":1.5}', '{"Id":2}', '{"Id":2,"Token":5}', '{"Id":2,"Token":"guess"}'];
  for (const body of bodies) {
    const s = await rawConnect(t, port);
    s.write(regFrame(body));
    await closed(s); // refused: Viscript hangs up
  }

  // PINGs without ever reading the PONGs: dropped once its unread answers pass the cap.
  const flooder = await rawConnect(t, port);
  flooder.on('error', () => {});
  const gone = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
  const burst = Buffer.concat(Array.from({ length: 100_000 }, () => encodePing(1)));
  let isGone = false;
  void gone.then(() => (isGone = true));
  for (let i = 0; i < 200 && !isGone; i++) {
    await new Promise<void>((resolve) => {
      if (flooder.write(burst)) return resolve();
      flooder.once('drain', resolve);
      flooder.once('close', resolve);
    });
  }
  await gone;

  const warnings = v.stderr.filter((l) => l.includes('protocol error'));
  assert.equal(warnings.length, 1, `refusals are logged once per interval, not once each:\n${warnings.join('\n')}`);

  // Viscript still starts, pings and stops a legitimate client.
  const started = await v.run('s app');
  assert.equal(started.ok, true, String(started.text));
  const id = (started.data as { id: number }).id;
  await v.waitFor((m: Msg) => m.type === 'event' && m.event === 'registered' && m.id === id);
  const ping = await v.run(`ping ${id}`);
  assert.equal(ping.ok, true, String(ping.text));
  const sd = await v.run(`sd ${id}`);
  assert.equal(sd.ok, true, String(sd.text));
  assert.equal(v.child.exitCode, null);
});
