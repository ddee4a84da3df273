// Stream throughput as the node benches measure it: one writer pushing fixed chunks as fast as the reader takes
// them for a fixed time.

const SECONDS = 2.5;
const CHUNK = Buffer.alloc(256 * 1024, 7);

/** Writes for SECONDS as fast as the reader takes it; returns MB/s as the reader counted it. */
export function blast(w: NodeJS.WritableStream & { destroy(): void }, r: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve) => {
    let bytes = 0;
    let started = 0;
    r.on('data', (d: Buffer) => {
      if (!started) started = performance.now();
      bytes += d.length;
    });
    const stopAt = performance.now() + SECONDS * 1000;
    const pump = () => {
      while (performance.now() < stopAt) {
        if (!w.write(CHUNK)) {
          w.once('drain', pump);
          return;
        }
      }
      const secs = (performance.now() - started) / 1000;
      resolve(bytes / 1e6 / secs);
      w.destroy();
    };
    pump();
  });
}
