// A link with delay and loss made in user space, for kernels without the netem qdisc: two TUN devices
// whose packets this process passes across, each one held for `delay` ms and dropped with probability
// `loss`. The lab moves each device into one host's namespace. Run: node impair-relay.js NAME_A NAME_B DELAY_MS LOSS_PCT [a|b|both]
// (the side whose outgoing packets are impaired, as with netem on that side's egress).
import { TunDevice } from '../../src/apps/vpn/tun.js';

const [nameA, nameB, delayText, lossText, side = 'both'] = process.argv.slice(2);
const delay = Number(delayText) || 0;
const lossRate = (Number(lossText) || 0) / 100;

const a = TunDevice.open(nameA);
const b = TunDevice.open(nameB);

function pipe(from: TunDevice, to: TunDevice, impaired: boolean): void {
  const delayMs = impaired ? delay : 0;
  const loss = impaired ? lossRate : 0;
  // Constant delay keeps a FIFO in arrival order, so one timer for the head of the queue is enough.
  const queue: Array<{ at: number; pkt: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].at <= now + 0.5) to.write(queue.shift()!.pkt);
    if (queue.length) timer = setTimeout(flush, queue[0].at - now);
  };
  const onPackets = (packets: Buffer[]) => {
    for (const pkt of packets) {
      if (loss && Math.random() < loss) continue;
      if (!delayMs) {
        to.write(pkt);
        continue;
      }
      // (a copy: the packets are views of the reader's slab, reused for the next batch)
      queue.push({ at: performance.now() + delayMs, pkt: Buffer.from(pkt) });
      if (!timer) timer = setTimeout(flush, delayMs);
    }
  };
  from.onPackets(65535, onPackets, (err) => {
    console.error(err.message);
    process.exit(1);
  });
}

pipe(a, b, side !== 'b');
pipe(b, a, side !== 'a');
process.on('SIGTERM', () => {
  a.close();
  b.close();
  process.exit(0);
});
console.log(`ready ${a.name} ${b.name}`);
