// `skywire demo`: the whole mesh on this machine under Viscript. Creates the demo's keys (once, under --dir),
// starts Viscript with demo/config.yaml (messenger, node manager, nodes A, B, C, socks-server beside C,
// socks-client beside A routed through B, a small web server), waits until a request really crosses the
// mesh, and prints the curl line to try. Viscript owns the terminal; Ctrl+C there (twice) or `quit` stops
// everything, as does SIGINT/SIGTERM to this process.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, isIP } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseCommandLine } from './usage.js';
import { loadOrCreateKeyFile, pkToHex } from '../net/keys.js';
import { formatHostPort, parseHostPort, type HostPort } from '../util/hostport.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder of this package's package.json (where demo/ lives), whichever build folder this file runs from. */
function packageRoot(): string {
  for (let dir = here; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'skywire-viscript') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the skywire-viscript package above ${here}`);
  }
}

interface DemoOptions {
  dir: string;
  socks: HostPort;
  web: HostPort;
  messenger: HostPort;
  dashboard: HostPort;
  signal: HostPort;
  gui?: string | boolean;
  headless: boolean;
  json: boolean;
  readyTimeout: number;
}

export async function main(argv: string[]): Promise<number> {
  const hp = (s: string) => parseHostPort(s, '127.0.0.1');
  const program = new Command('skywire demo')
    .description('run a local demo mesh (messenger, node manager, 3 nodes, SOCKS exit and proxy, web server) under Viscript')
    .option('--dir <dir>', 'where the demo keeps its keys, logs and state', '.demo')
    .option('--socks <host:port>', 'the SOCKS5 proxy for your programs', hp, hp('127.0.0.1:1080'))
    .option('--web <host:port>', 'the demo web server', hp, hp('127.0.0.1:7180'))
    .option('--messenger <host:port>', 'the messenger', hp, hp('127.0.0.1:7110'))
    .option('--dashboard <host:port>', "the node manager's network dashboard", hp, hp('127.0.0.1:7190'))
    .option('--signal <host:port>', "Viscript's signal server", hp, hp('127.0.0.1:7999'))
    .option('--gui [host:port]', 'also serve the Viscript desktop to a browser')
    .option('--headless', 'Viscript reads commands from stdin instead of a prompt', false)
    .option('--json', 'print the ready line as JSON (with --headless: Viscript speaks JSON too)', false)
    .option('--ready-timeout <ms>', 'how long to wait for the mesh to carry a request', (s) => Number(s), 60_000)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `skywire demo: ${s}` : s) });
  const usage = parseCommandLine(program, argv);
  if (usage !== undefined) return usage;
  const o = program.opts<DemoOptions>();
  const dir = resolve(o.dir);
  // The SOCKS exit opens exactly this address and port of its machine to the mesh (--allow IP:PORT).
  if (!isIP(o.web.host)) {
    console.error(`skywire demo: --web needs an IP address (e.g. 127.0.0.1:7180), not "${o.web.host}"`);
    return 1;
  }

  // Fixed ports make the printed curl line predictable; say which one is taken instead of failing later.
  const ports: Array<[string, HostPort]> = [
    ['--socks', o.socks], ['--web', o.web], ['--messenger', o.messenger], ['--dashboard', o.dashboard], ['--signal', o.signal],
    ['node A transport', hp('127.0.0.1:7121')], ['node B transport', hp('127.0.0.1:7122')], ['node C transport', hp('127.0.0.1:7123')],
  ];
  for (const [what, addr] of ports) {
    if (!(await portIsFree(addr))) {
      console.error(`skywire demo: ${formatHostPort(addr)} (${what}) is already in use: is a demo already running? ` +
        `Stop it, or choose another address${what.startsWith('--') ? ` with ${what}` : ''}.`);
      return 1;
    }
  }

  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const pk = (name: string) => pkToHex(loadOrCreateKeyFile(join(dir, 'keys', `${name}.json`)).publicKey);
  const [messengerPk, managerPk, , bPk, cPk] = ['messenger', 'manager', 'a', 'b', 'c'].map(pk);
  // API files of an earlier run name ports and tokens that are gone; the nodes write fresh ones.
  for (const n of ['a', 'b', 'c']) rmSync(join(dir, 'keys', `${n}.api.json`), { force: true });

  const env = {
    ...process.env,
    DEMO_DIR: dir,
    DEMO_SKYWIRE: join(here, 'skywire.js'), // the components run from the same build as this command
    DEMO_MESSENGER_ADDR: formatHostPort(o.messenger),
    DEMO_MESSENGER: `${messengerPk}@${formatHostPort(o.messenger)}`,
    DEMO_MANAGER_PK: managerPk,
    DEMO_B_PK: bPk,
    DEMO_C_PK: cPk,
    DEMO_SOCKS_ADDR: formatHostPort(o.socks),
    DEMO_WEB_ADDR: formatHostPort(o.web),
    DEMO_DASHBOARD_ADDR: formatHostPort(o.dashboard),
  };
  const viscriptArgs = [
    join(here, 'viscript.js'),
    '--config', join(packageRoot(), 'demo', 'config.yaml'),
    '--state-dir', join(dir, 'viscript'),
    '--signal-address', formatHostPort(o.signal),
    ...(o.headless ? ['--headless'] : []),
    ...(o.headless && o.json ? ['--json'] : []),
    ...(o.gui === true ? ['--gui'] : typeof o.gui === 'string' ? ['--gui', o.gui] : []),
  ];
  const viscript = spawn(process.execPath, viscriptArgs, { env, stdio: 'inherit' });
  const exited = new Promise<number>((res) => viscript.on('exit', (code, sig) => res(code ?? (sig ? 1 : 0))));
  // Viscript stops every app on SIGINT/SIGTERM; this process only passes the signal on and waits.
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      interrupted = true;
      viscript.kill(sig);
    });
  }

  const target = `http://${formatHostPort(o.web)}/`;
  // Stopped when Viscript exits first, so nothing keeps this process waiting on a mesh that is gone.
  const stopWaiting = new AbortController();
  const ready = await Promise.race([
    waitForMesh(o.socks, o.web, o.readyTimeout, stopWaiting.signal).then(() => true, () => false),
    exited.then(() => false),
  ]);
  stopWaiting.abort();
  if (!ready && viscript.exitCode !== null) {
    // Stopped (Ctrl+C twice at the prompt, quit, a signal) before the mesh carried a request: not a success.
    const code = await exited;
    console.error(`skywire demo: stopped before the mesh was ready${interrupted ? ' (interrupted)' : ''}`);
    return code !== 0 ? code : 130;
  }
  const curl = `curl --socks5-hostname ${formatHostPort(o.socks)} ${target}`;
  if (ready) {
    if (o.json) console.log(JSON.stringify({ type: 'demo-ready', curl, socks: formatHostPort(o.socks), target, dir }));
    else {
      console.log(
        `\nThe demo mesh is up: a request to ${target} through the SOCKS proxy went A -> B -> C and out.\n` +
          `Try it:\n\n    ${curl}\n\n` +
          `In Viscript: "la" lists every component, "ping <id|name>", "ru <id|name>", "logs <id|name>", "sd <id|name>".\n` +
          `From another terminal: node ${relativeOrAbsolute(join(here, 'viscript.js'))} --state-dir ${relativeOrAbsolute(join(dir, 'viscript'))} -c "la"\n` +
          `"logs" of node-manager shows the dashboard URL. Ctrl+C twice or "quit" stops everything.\n` +
          (o.headless ? '' : '(press Enter for the prompt)\n'),
      );
    }
  } else if (viscript.exitCode === null) {
    console.error(`skywire demo: the mesh did not carry a request within ${o.readyTimeout} ms; ` +
      `look at "la" and "logs <id>" in Viscript (logs are also in ${join(dir, 'viscript')})`);
  }
  return exited;
}

/** A path as short as it can be for a command line typed in the current directory. */
function relativeOrAbsolute(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

function portIsFree(addr: HostPort): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(addr.port, addr.host, () => srv.close(() => res(true)));
  });
}

/** Retries a real GET through the SOCKS proxy until the web server's answer comes back. */
async function waitForMesh(socks: HostPort, web: HostPort, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  while (Date.now() < deadline && !signal.aborted) {
    if (await fetchThroughSocks(socks, web, signal).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  throw new Error('timeout');
}

/** One HTTP GET / over SOCKS5 (no auth, CONNECT by domain name); true when the demo page answers. */
function fetchThroughSocks(socks: HostPort, web: HostPort, signal: AbortSignal): Promise<boolean> {
  return new Promise((res, rej) => {
    const sock = connect(socks.port, socks.host);
    signal.addEventListener('abort', () => sock.destroy(new Error('stopped')), { once: true });
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    let stage = 0;
    let buf = Buffer.alloc(0);
    sock.on('error', rej);
    sock.on('connect', () => sock.write(Buffer.from([5, 1, 0])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[0] !== 5 || buf[1] !== 0) return rej(new Error('proxy refused no-auth'));
        buf = buf.subarray(2);
        stage = 1;
        const host = Buffer.from(web.host);
        const port = Buffer.alloc(2);
        port.writeUInt16BE(web.port);
        sock.write(Buffer.concat([Buffer.from([5, 1, 0, 3, host.length]), host, port]));
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return rej(new Error(`proxy reply ${buf[1]}`));
        buf = buf.subarray(10);
        stage = 2;
        sock.write(`GET / HTTP/1.0\r\nHost: ${web.host}\r\n\r\n`);
      }
    });
    sock.on('end', () => res(stage === 2 && /Skywire demo/.test(buf.toString())));
  });
}
