// The worker of ledger-thread.ts: one Ledger, its calls answered in order of arrival.
import { parentPort, workerData } from 'node:worker_threads';
import { Ledger } from './ledger.js';

const { dir, retentionMs } = workerData as { dir: string; retentionMs?: number };
const ledger = new Ledger(dir, retentionMs);
let queue: Promise<unknown> = Promise.resolve();

parentPort!.on('message', (m: { id: number; op: string; args: unknown[] }) => {
  const run = async (): Promise<unknown> => {
    switch (m.op) {
      case 'open':
        return ledger.open();
      case 'close':
        return ledger.close();
      case 'write':
        return ledger.write(m.args[0] as Parameters<Ledger['write']>[0]);
      case 'records':
        return ledger.records(m.args[0] as number | undefined, m.args[1] as number | undefined);
      case 'compact':
        return ledger.compact(m.args[0] as number | undefined, m.args[1] as number | undefined);
      default:
        throw new Error(`unknown ledger call ${m.op}`);
    }
  };
  queue = queue.then(run).then(
    (result) => parentPort!.postMessage({ id: m.id, ok: true, result }),
    (err: Error) => parentPort!.postMessage({ id: m.id, ok: false, error: err.message }),
  );
});
