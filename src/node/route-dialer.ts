// An app's dial: a route setup (the manager computes and installs the route, docs/routing.md, Life of a route)
// and the end-to-end handshake over it. Setups run at most MAX_CONCURRENT_SETUPS at once; more wait in a
// bounded queue, refused with `busy` past it (setup-queue.ts).
import type { Duplex } from 'node:stream';
import { shortPk } from '../net/keys.js';
import type { ControlError } from '../net/control-link.js';
import type { Logger } from '../util/log.js';
import { decodeDialReply, type DialMessage } from '../routing/control-protocol.js';
import type { ManagerLinks } from './manager-links.js';
import type { RouteEnds } from './route-ends.js';
import { SetupQueue } from './setup-queue.js';
import { AppApiError } from './sdk/errors.js';

/** Route setups (manager request + end-to-end handshake) a node runs at once; more wait in a bounded queue. */
const MAX_CONCURRENT_SETUPS = 64;
const MAX_QUEUED_SETUPS = 8192;
const MAX_SETUP_WAIT_MS = 120_000;
const MANAGER_ANSWER_MS = 10_000;

export interface DialOptions {
  minHops?: number;
  maxHops?: number;
  /** Says the app stopped waiting (its connection closed): a queued setup is then skipped. */
  gone?: () => boolean;
}

export class RouteDialer {
  private readonly setups = new SetupQueue(MAX_CONCURRENT_SETUPS, MAX_QUEUED_SETUPS, MAX_SETUP_WAIT_MS);
  /** Dials start at the managers in turn, so several managers (sharing Redis) share the setups. */
  private turn = 0;

  constructor(
    private readonly pkHex: string,
    private readonly managers: ManagerLinks,
    private readonly ends: RouteEnds,
    private readonly log: Logger,
  ) {}

  /** A stream from local app port `fromPort` to app `port` at node `pk`, encrypted end to end. */
  async dial(fromPort: number, pk: string, port: number, o: DialOptions): Promise<Duplex> {
    if (pk === this.pkHex) throw new AppApiError('bad_request', 'cannot dial this node itself');
    return this.setups.run(() => {
      // The app gave up while this dial waited its turn: no route for nobody.
      if (o.gone?.()) throw new AppApiError('cancelled', 'the app closed the dial request');
      return this.setUp({ t: 'dial', to: pk, port, fromPort, minHops: o.minHops, maxHops: o.maxHops });
    });
  }

  private async setUp(req: DialMessage): Promise<Duplex> {
    const all = this.managers.list();
    if (!all.length) throw new AppApiError('no_manager', 'this node is not connected to any node manager');
    const first = this.turn++ % all.length;
    const links = [...all.slice(first), ...all.slice(0, first)];
    let routeKey = '';
    const t0 = performance.now();
    // Several trusted managers: each knows the nodes linked to it, so the next one is tried unless the answer
    // is final (the destination refused, or the request itself is wrong).
    for (let i = 0; i < links.length && !routeKey; i++) {
      try {
        routeKey = decodeDialReply(await links[i].request(req, MANAGER_ANSWER_MS));
      } catch (err) {
        const e = err as ControlError;
        if (i + 1 < links.length && e.code !== 'refused' && e.code !== 'bad_request') continue;
        throw new AppApiError(e.code ?? 'error', e.message);
      }
    }
    if (!this.ends.has(routeKey)) throw new AppApiError('error', 'the node manager answered but did not install the route here');
    const t1 = performance.now();
    try {
      const ch = await this.ends.connect(routeKey, req.to);
      this.log.debug('dialed', { route: routeKey, setupMs: t1 - t0, handshakeMs: performance.now() - t1 });
      return ch;
    } catch (err) {
      throw new AppApiError('timeout', `end-to-end handshake with ${shortPk(req.to)} failed: ${(err as Error).message}`);
    }
  }
}
