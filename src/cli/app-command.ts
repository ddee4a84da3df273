// What the commands of apps beside a node share: the options that find the node's app API, argv parsing with
// one-line usage errors, and connecting with signal-client and SIGINT/SIGTERM handling set up first.
import type { Command } from 'commander';
import { parseCommandLine } from './usage.js';
import { existsSync } from 'node:fs';
import { AppClient, DEFAULT_CONNECT_WAIT_MS } from '../node/sdk/index.js';
import { startSignalClientFromEnv } from '../signal/index.js';
import { installSignalHandlers, onShutdown } from '../util/lifecycle.js';

export const collect = (v: string, prev: string[]) => [...prev, v];

export function addAppApiOptions(program: Command, defaultName: string): Command {
  return program
    .option('--api <HOST:PORT>', "the node's local app API (default: $SKYWIRE_APP_API)")
    .option('--token <token>', 'app API token (default: $SKYWIRE_APP_TOKEN)')
    .option('--api-file <file>', 'JSON file {api, token} written by the node (default: $SKYWIRE_APP_API_FILE)')
    .option('--name <name>', 'app name registered with the node', defaultName);
}

/** Parses argv; returns the exit code on --help or a usage error, else undefined. */
export function parseArgs(program: Command, argv: string[], cmd: string): number | undefined {
  if (program.name() !== `skywire ${cmd}`) program.name(`skywire ${cmd}`);
  return parseCommandLine(program, argv);
}

export function intOption(text: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${what} "${text}" must be an integer from ${min} to ${max}`);
  return n;
}

/** Connects to the node's app API, with signal-client and SIGINT/SIGTERM handling set up first. */
export async function connectApp(o: {
  api?: string;
  token?: string;
  apiFile?: string;
  name: string;
  port?: number;
}): Promise<AppClient> {
  installSignalHandlers();
  startSignalClientFromEnv();
  // The SDK waits (up to SKYWIRE_APP_WAIT_MS) for a node that is still starting: say so at once, not after it.
  const file = o.apiFile ?? process.env.SKYWIRE_APP_API_FILE;
  if (!o.api && file && !existsSync(file)) {
    const fromEnv = process.env.SKYWIRE_APP_WAIT_MS;
    const waitMs = fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : DEFAULT_CONNECT_WAIT_MS;
    // A short wait (a script's SKYWIRE_APP_WAIT_MS) ends with its own error line soon enough.
    if (waitMs >= 1000) process.stderr.write(`${o.name}: waiting up to ${Math.round(waitMs / 1000)} s for the node's API file ${file} (its node writes it when it starts)\n`);
  }
  // The SDK falls back to SKYWIRE_APP_API / SKYWIRE_APP_TOKEN / SKYWIRE_APP_API_FILE.
  const app = await AppClient.connect({ api: o.api, token: o.token, apiFile: o.apiFile, name: o.name, port: o.port });
  onShutdown(() => app.close());
  return app;
}
