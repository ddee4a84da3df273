// Checks many receipt signatures fast (docs/metering.md, Statement): on libsecp256k1 in WebAssembly
// (verify-libsecp.ts; OpenSSL on request, for the bench), spread over worker threads when there are enough of
// them to pay for starting the workers; the calling thread takes a share too. Offline verification of a statement is the only user: a node checks the few
// receipts its neighbours send it one at a time (meter.ts).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ENGINES, type VerifyEngine } from './verify-libsecp.js';

/** Below this many receipts per extra thread, starting a worker costs more than it saves. */
const PER_WORKER_MIN = 400;

/** Verifies each of `raws` (whole receipts); true where the signature is the signer's. */
export async function verifyReceiptsParallel(raws: Buffer[], threads = availableParallelism(), engine: VerifyEngine = 'libsecp'): Promise<boolean[]> {
  const verify = ENGINES[engine];
  const n = raws.length;
  const workers = Math.max(0, Math.min(threads - 1, Math.floor(n / PER_WORKER_MIN)));
  const share = Math.ceil(n / (workers + 1));
  const out = new Array<boolean>(n);
  const jobs: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    const from = (w + 1) * share;
    const slice = raws.slice(from, from + share);
    if (!slice.length) break;
    jobs.push(
      runWorker(Buffer.concat(slice), engine).then((ok) => {
        for (let i = 0; i < slice.length; i++) out[from + i] = ok[i] === 1;
      }),
    );
  }
  for (let i = 0; i < Math.min(share, n); i++) out[i] = verify(raws[i]);
  await Promise.all(jobs);
  return out;
}

function runWorker(all: Buffer, engine: VerifyEngine): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { all, engine } });
    w.once('message', (ok: Uint8Array) => {
      resolve(ok);
      void w.terminate();
    });
    w.once('error', reject);
    w.once('exit', (code) => code && reject(new Error(`receipt verify worker exited with ${code}`)));
  });
}
