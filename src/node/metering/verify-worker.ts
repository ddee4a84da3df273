// A worker of verify-pool.ts: receipts laid end to end in workerData, one result byte each (1 = verifies).
import { parentPort, workerData } from 'node:worker_threads';
import { RECEIPT_BYTES, verifyRawFast } from './receipt.js';

const all = Buffer.from(workerData as Uint8Array);
const ok = new Uint8Array(all.length / RECEIPT_BYTES);
for (let i = 0; i < ok.length; i++) ok[i] = verifyRawFast(all.subarray(i * RECEIPT_BYTES, (i + 1) * RECEIPT_BYTES)) ? 1 : 0;
parentPort!.postMessage(ok);
