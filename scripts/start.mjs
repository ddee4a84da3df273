#!/usr/bin/env node
// `npm start`: checks the demo's ports first (a taken port is found in a second, not after a build), builds
// what changed (scripts/build.mjs), then runs `skywire demo` with the arguments given after `--`.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

// The demo's default addresses (src/cli/skywire-demo.ts); with options given, the demo checks its own.
const DEFAULT_PORTS = [
  ['--socks', 1080], ['--web', 7180], ['--messenger', 7110], ['--dashboard', 7190], ['--signal', 7999],
  ['node A transport', 7121], ['node B transport', 7122], ['node C transport', 7123],
];

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

if (!args.length) {
  for (const [what, port] of DEFAULT_PORTS) {
    if (!(await portIsFree(port))) {
      console.error(`npm start: 127.0.0.1:${port} (${what}) is already in use: is a demo already running? ` +
        `Stop it, or choose other addresses: npm start -- ${what.startsWith('--') ? what : '--socks'} 127.0.0.1:PORT`);
      process.exit(1);
    }
  }
}
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status || 1);
const demo = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'skywire.js'), 'demo', ...args], { stdio: 'inherit' });
// The demo stops Viscript and every app on SIGINT/SIGTERM; this process passes them on and waits.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => demo.kill(sig));
demo.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
