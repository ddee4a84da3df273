// Lab helper process for the punch tests: the two ends of a TCP stream through a SOCKS proxy into the mesh.
//   echo-server PORT                        echoes every connection
//   source-server PORT BYTES                sends BYTES of deterministic data to each connection, then ends it
//   pump SOCKS_PORT HOST PORT               through the proxy to an echo server: writes 16 KiB chunks until
//                                           SIGUSR2, then ends and waits for the echo; prints sha256 both ways
//   sink SOCKS_PORT HOST PORT               through the proxy to a source server: reads to the end, prints sha256
//                                           and the time from the proxy's answer to the end
// Servers print "ready"; a pump prints "flowing" once 256 KiB came back, and "bytes N" lines as it goes.
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { sourceChunk } from './source-data.js';

const [mode, ...args] = process.argv.slice(2);


function viaSocks(proxyPort: number, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(proxyPort, '127.0.0.1', () => s.write(Buffer.from([5, 1, 0])));
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.on('error', reject);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        const ip = Buffer.from(host.split('.').map(Number));
        const p = Buffer.alloc(2);
        p.writeUInt16BE(port);
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 1]), ip, p]));
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return reject(new Error(`SOCKS reply ${buf[1]}`));
        // Paused until the caller listens: bytes that came with the reply (or after) must not be emitted to no one.
        s.pause();
        s.off('data', onData);
        s.off('error', reject);
        if (buf.length > 10) s.unshift(buf.subarray(10));
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

async function main(): Promise<void> {
  if (mode === 'echo-server') {
    createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    }).listen(Number(args[0]), () => console.log('ready'));
  } else if (mode === 'source-server') {
    const total = Number(args[1]);
    createServer((s) => {
      s.on('error', () => {});
      let i = 0;
      let sent = 0;
      const more = () => {
        while (sent < total) {
          const c = sourceChunk(i++, total - sent);
          sent += c.length;
          if (!s.write(c)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    }).listen(Number(args[0]), () => console.log('ready'));
  } else if (mode === 'sink') {
    const s = await viaSocks(Number(args[0]), args[1], Number(args[2]));
    const h = createHash('sha256');
    const started = performance.now();
    let n = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.resume();
    s.on('end', () => {
      console.log(`done bytes=${n} sha256=${h.digest('hex')} ms=${Math.round(performance.now() - started)}`);
      process.exit(0);
    });
  } else if (mode === 'pump') {
    const s = await viaSocks(Number(args[0]), args[1], Number(args[2]));
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let sentBytes = 0;
    let gotBytes = 0;
    let stop = false;
    let nextReport = 256 * 1024;
    process.on('SIGUSR2', () => (stop = true));
    s.on('data', (d: Buffer) => {
      got.update(d);
      gotBytes += d.length;
      if (gotBytes >= nextReport) {
        console.log(nextReport === 256 * 1024 ? 'flowing' : `bytes ${gotBytes}`);
        nextReport += 4 * 1024 * 1024;
      }
      if (stop) finish();
    });
    s.resume();
    const finish = () => {
      if (gotBytes !== sentBytes) return;
      console.log(`done sent=${sentBytes} got=${gotBytes} same=${sent.digest('hex') === got.digest('hex')}`);
      process.exit(0);
    };
    for (let i = 0; !stop; i++) {
      const c = Buffer.alloc(16 * 1024, i % 251);
      c.writeUInt32BE(i, 0);
      sent.update(c);
      sentBytes += c.length;
      if (!s.write(c)) await new Promise((r) => s.once('drain', r));
      // A modest rate: the test is about order and integrity across the switch, not speed.
      if (i % 8 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    finish();
  } else {
    console.error(`unknown mode ${mode}`);
    process.exit(2);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
