#!/usr/bin/env node
// Builds the TUN addon (native/tun/build/Release/skywire_tun.node) as a build step, never an install script.
// Uses node-gyp (npm's own copy, or one on PATH) with the headers of the running node; falls back to a
// direct `cc` call when node-gyp is unavailable. On systems other than Linux there is nothing to build.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (process.platform !== 'linux') {
  console.log('native/tun: skipped (the VPN\'s TUN addon is Linux only for now)');
  process.exit(0);
}

// Headers of the node running this script: <prefix>/include/node (Debian's nodejs puts them in /usr).
const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const gyp = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find((p) => p && existsSync(p));

// Quiet on success (a build step that talks on every `npm start` hides what matters); everything on failure.
function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: here, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`);
  return r.status === 0;
}

if (gyp && run(process.execPath, [gyp, 'rebuild', '--silent', ...(nodedir ? [`--nodedir=${nodedir}`] : [])])) process.exit(0);

if (!nodedir) {
  console.error('native/tun: node headers not found (install the nodejs headers, e.g. Debian "libnode-dev"/"nodejs")');
  process.exit(1);
}
console.error('native/tun: node-gyp unavailable or failed; compiling with cc directly');
mkdirSync(join(here, 'build', 'Release'), { recursive: true });
const ok = run('cc', [
  '-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', '-DBUILDING_NODE_EXTENSION', '-DNODE_GYP_MODULE_NAME=skywire_tun',
  `-I${join(nodedir, 'include', 'node')}`,
  '-o', join('build', 'Release', 'skywire_tun.node'), 'tun.c',
]);
process.exit(ok ? 0 : 1);
