// examples/config.yaml as a user runs it: the ticker imports the package's own signal client through the
// package self-reference (skywire-viscript/signal), so it is run from a copy of the package whose dist/ is this
// build's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, copyFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, startViscript, tempDir } from './helpers.js';

test('examples/config.yaml: s ticker registers, answers ping and ru, echoes when attached, stops on sd', async (t) => {
  const root = repoRoot();
  const pkg = tempDir(t);
  const buildRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url)))); // <outDir>/test/viscript -> <outDir>
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(buildRoot, join(pkg, 'dist'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  // Without the state of a Viscript the developer may be running on the examples.
  cpSync(join(root, 'examples'), join(pkg, 'examples'), { recursive: true, filter: (src) => !src.includes('.viscript') });

  const v = startViscript(['--config', join(pkg, 'examples', 'config.yaml'), '--exit-on-eof']);
  t.after(() => v.kill());
  const ready = await v.waitFor((m) => m.type === 'ready');
  assert.deepEqual(ready.apps, ['ticker', 'clock', 'sleeper']);
  const s = await v.run('s ticker 100 beat');
  assert.equal(s.ok, true, String(s.text));
  await v.waitFor((m) => m.type === 'event' && m.event === 'registered' && m.id === 2);
  assert.equal((await v.run('ping 2')).ok, true);
  const ru = await v.run('ru 2');
  assert.ok((ru.data as { reported?: unknown }).reported, 'the ticker reports its usage over signal');
  await v.waitForAppLine(2, (l) => l === 'beat 1');
  await v.run('attach 2');
  const from = v.messages.length;
  v.send('hi there');
  await v.waitFor((m) => m.type === 'output' && m.text === 'echo: hi there', from);
  await v.run('\x1a');
  const sd = await v.run('sd 2');
  assert.equal((sd.data as { via: string }).via, 'signal');
  v.child.stdin!.end();
  assert.equal((await v.exited).code, 0);
});
