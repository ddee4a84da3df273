#!/usr/bin/env node
// `npm run build`: the TUN addon, the TypeScript (tsc) and the browser front ends (vite), each only when one of
// its inputs changed since its last successful build (newest modification time of its files and folders, so
// an added or deleted file counts too), so `npm start` on a built tree starts at once. `--force` rebuilds all.
// What each step last built from is kept in dist/.build-state.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const stateFile = join(root, 'dist', '.build-state.json');

/** Newest mtime (ms) of the given files and of everything under the given folders, skipping `skip` folders. */
export function newestMtime(paths, skip = []) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (!st.isDirectory() || skip.some((s) => p.endsWith(s))) return;
    for (const name of readdirSync(p)) visit(join(p, name));
  };
  for (const p of paths) visit(join(root, p));
  return newest;
}

const steps = [
  {
    name: 'native',
    inputs: ['native/tun/tun.c', 'native/tun/binding.gyp', 'native/tun/build.mjs'],
    output: 'native/tun/build/Release/skywire_tun.node',
    run: [process.execPath, ['native/tun/build.mjs']],
  },
  {
    name: 'tsc',
    inputs: ['src', 'test', 'bench', 'examples', 'tsconfig.json', 'package-lock.json'],
    skip: [join('src', 'web')],
    output: 'dist/src/cli/skywire.js',
    run: [process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']],
  },
  {
    name: 'web',
    inputs: ['src/web', 'package-lock.json'],
    output: 'web-dist',
    run: [process.execPath, ['scripts/build-web.mjs']],
  },
];

let state = {};
try {
  state = JSON.parse(readFileSync(stateFile, 'utf8'));
} catch {
  // first build, or a damaged file: build everything
}
if (typeof state !== 'object' || state === null) state = {};

for (const step of steps) {
  const newest = newestMtime(step.inputs, step.skip);
  const upToDate = !force && existsSync(join(root, step.output)) && state[step.name] === newest;
  if (upToDate) continue;
  const [cmd, args] = step.run;
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${step.name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  state[step.name] = newest;
  mkdirSync(dirname(stateFile), { recursive: true });
  writeFileSync(stateFile, JSON.stringify(state) + '\n');
}
