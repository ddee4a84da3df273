// A worker of verify-pool.ts: receipts laid end to end in workerData.all, one result byte each (1 = verifies).
import { parentPort, workerData } from 'node:worker_threads';
import { RECEIPT_BYTES } from './receipt.js';
import { ENGINES, type VerifyEngine } from './verify-libsecp.js';

const { all: data, engine } = workerData as { all: Uint8Array; engine: VerifyEngine };
const verify = ENGINES[engine];
const all = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const ok = new Uint8Array(all.length / RECEIPT_BYTES);
for (let i = 0; i < ok.length; i++) ok[i] = verify(all.subarray(i * RECEIPT_BYTES, (i + 1) * RECEIPT_BYTES)) ? 1 : 0;
parentPort!.postMessage(ok);
