// The end-to-end cipher lever (issue 13): raw AEAD rates on one core (AES-256-GCM vs ChaCha20-Poly1305, 64 KB
// messages), then a stream over a route with 1 intermediate node, node processes A - B - C, the same A and B
// carrying both: to C1 (offers AES-256-GCM, as A does) and to C2 (forces ChaCha20-Poly1305). Rounds alternate
// so both see the same load; medians and their ratio are printed with the load.
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { hasAesHardware } from '../../src/net/e2e-cipher.js';
import { AppClient } from '../../src/node/sdk/index.js';
import { Cluster, dialRetry, waitTransports } from '../../test/node/harness.js';
import { blast } from '../common/blast.js';
import { loadLine, median } from '../common/report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function rawRate(algorithm: 'aes-256-gcm' | 'chacha20-poly1305', ms = 500): number {
  const key = randomBytes(32);
  const msg = randomBytes(65535);
  const nonce = Buffer.alloc(12);
  let bytes = 0;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    nonce.writeUInt32LE(n++, 4);
    const c = createCipheriv(algorithm as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
    c.update(msg);
    c.final();
    c.getAuthTag();
    bytes += msg.length;
  }
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  console.log(loadLine());
  console.log(`AES hardware: ${hasAesHardware() ? 'yes' : 'no'} (/proc/cpuinfo)`);
  const raw = { aes: [] as number[], chacha: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    raw.chacha.push(rawRate('chacha20-poly1305'));
    raw.aes.push(rawRate('aes-256-gcm'));
  }
  const [ra, rc] = [median(raw.aes), median(raw.chacha)];
  console.log(`raw AEAD, one core, 64 KB messages: AES-256-GCM ${ra.toFixed(0)} MB/s, ChaCha20-Poly1305 ${rc.toFixed(0)} MB/s (${(ra / rc).toFixed(2)}x)`);

  const c = new Cluster();
  const apps: AppClient[] = [];
  try {
    await c.startCore();
    const aes = { SKYWIRE_E2E_CIPHER: 'aes-256-gcm' };
    const a = await c.node([], [], aes);
    const b = await c.node([a.pk]);
    const ends = { 'aes-256-gcm': await c.node([b.pk], [], aes), 'chacha20-poly1305': await c.node([b.pk], [], { SKYWIRE_E2E_CIPHER: 'chacha20-poly1305' }) };
    await waitTransports(b, [a.pk, ends['aes-256-gcm'].pk, ends['chacha20-poly1305'].pk]);
    const client = await AppClient.connect({ apiFile: a.apiFile, name: 'bench' });
    apps.push(client);
    const sinks = new Map<string, { inbound?: Socket }>();
    for (const [name, n] of Object.entries(ends)) {
      const sinkApp = await AppClient.connect({ apiFile: n.apiFile, name: 'sink', port: 9 });
      apps.push(sinkApp);
      const slot: { inbound?: Socket } = {};
      sinkApp.listen((s) => (slot.inbound = s));
      sinks.set(name, slot);
    }
    const rates: Record<string, number[]> = { 'aes-256-gcm': [], 'chacha20-poly1305': [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, n] of Object.entries(ends)) {
        const slot = sinks.get(name)!;
        slot.inbound = undefined;
        const out = await dialRetry(client, n.pk, 9, { minHops: 2, maxHops: 2 });
        while (!slot.inbound) await new Promise((r) => setTimeout(r, 5));
        rates[name].push(await blast(out, slot.inbound));
      }
    }
    const [g, ch] = [median(rates['aes-256-gcm']), median(rates['chacha20-poly1305'])];
    console.log(
      `stream over a route, 1 intermediate node, end to end: AES-256-GCM ${g.toFixed(0)} MB/s, ChaCha20-Poly1305 ${ch.toFixed(0)} MB/s ` +
        `(${(g / ch).toFixed(2)}x; medians of ${ROUNDS} alternating rounds; transports stay ChaCha20-Poly1305, BOLT #8)`,
    );
    console.log(loadLine());
  } finally {
    await Promise.all(apps.map((x) => x.close()));
    await c.stop();
  }
}

await main();
