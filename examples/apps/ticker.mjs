#!/usr/bin/env node
// A tiny app for trying Viscript: it becomes a signal client when Viscript starts it (one import), prints a
// line per tick and echoes what you type when attached.
// Usage: ticker.mjs [interval-ms] [label]
import { createInterface } from 'node:readline';
import { setInterval } from 'node:timers';
import { startSignalClientFromEnv } from 'skywire-viscript/signal';

const intervalMs = Number(process.argv[2] ?? 1000);
const label = process.argv[3] ?? 'tick';
if (!Number.isFinite(intervalMs) || intervalMs < 10) {
  console.error(`ticker: interval "${process.argv[2]}" must be a number of milliseconds >= 10`);
  process.exit(2);
}

// SIGNAL_CLIENT, SIGNAL_SERVER_ADDRESS, SIGNAL_CLIENT_ID and SIGNAL_TOKEN come from Viscript; a SHUTDOWN
// request runs the program's shutdown hooks and exits.
startSignalClientFromEnv();

let n = 0;
setInterval(() => console.log(`${label} ${++n}`), intervalMs);

createInterface({ input: process.stdin }).on('line', (line) => console.log(`echo: ${line}`));
