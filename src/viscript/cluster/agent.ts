// The agent side: this machine's Viscript obeys the hubs listed in `cluster.hubs`. It listens on the cluster
// port of its messenger client; a stream from any other key is closed unanswered (and logged), a listed hub's
// stream must then pass an end-to-end BOLT #8 handshake proving that same key. Each hub gets status, and
// shell sessions on this engine in which it runs commands exactly as a local user would.
import type { Duplex } from 'node:stream';
import { ControlError, ControlLink, type ControlMessage } from '../../net/control-link.js';
import { type KeyPair, shortPk } from '../../net/keys.js';
import { secureAccept } from '../../net/secure.js';
import type { MessengerClient } from '../../messenger/client.js';
import { createLogger, rateLimited } from '../../util/log.js';
import type { ClusterConfig } from './config.js';
import { storeDeployed } from './deployed.js';
import type { Engine } from '../engine.js';
import { ShellSession } from '../session.js';
import { agentRequest, CLUSTER_PORT, MAX_OUTPUT_BACKLOG, MAX_SHELLS, problem, PROTOCOL_VERSION, WAKE_DATAGRAM } from './protocol.js';
import { machineStatus } from './status.js';

const log = createLogger('viscript.cluster.agent');
/** How often an agent without a link to a hub reminds it (a datagram) to dial. */
const WAKE_INTERVAL_MS = 2000;

export class ClusterAgent {
  private readonly links = new Map<string, ControlLink>();
  private readonly hubs: Set<string>;
  private stopListening?: () => void;
  private timer?: NodeJS.Timeout;
  private readonly refusedLog = rateLimited(log, 'warn', 'refused a cluster stream from a key not in cluster.hubs');
  private readonly badLog = rateLimited(log, 'warn', 'refused a malformed request from a hub');

  constructor(
    private readonly engine: Engine,
    private readonly cfg: ClusterConfig,
    private readonly messenger: MessengerClient,
    private readonly key: KeyPair,
  ) {
    this.hubs = new Set(cfg.hubs);
  }

  start(): void {
    this.stopListening = this.messenger.listen(CLUSTER_PORT, (s, from) => void this.onStream(s, from));
    this.messenger.on('connected', this.wake);
    this.timer = setInterval(this.wake, WAKE_INTERVAL_MS);
    this.timer.unref();
    this.wake();
  }

  /** Hubs (public key hex) with a live link. */
  connectedHubs(): string[] {
    return [...this.links.keys()];
  }

  close(): void {
    clearInterval(this.timer);
    this.messenger.off('connected', this.wake);
    this.stopListening?.();
    for (const l of this.links.values()) l.close('agent stopping');
    this.links.clear();
  }

  /** Tells each hub without a link that this machine is here, so it dials now rather than at its next try. */
  private readonly wake = (): void => {
    for (const hub of this.hubs) {
      if (this.links.has(hub)) continue;
      this.messenger.send(hub, WAKE_DATAGRAM).catch((err: Error) => log.debug('wake datagram not delivered', { hub: shortPk(hub), err: err.message }));
    }
  };

  private async onStream(stream: Duplex, from: string): Promise<void> {
    stream.on('error', () => undefined);
    if (!this.hubs.has(from)) {
      // Nothing is said to a stranger: the stream is closed before any handshake or byte (the hub sees it end).
      this.refusedLog.note('not in cluster.hubs', { from, hint: 'add its key to cluster.hubs to let it control this machine' });
      stream.end();
      setTimeout(() => stream.destroy(), 5000).unref();
      return;
    }
    let ch;
    try {
      ch = await secureAccept(stream, { localKey: this.key, handshakeTimeoutMs: 10_000, act1TimeoutMs: 5000 });
    } catch (err) {
      log.warn('hub handshake failed', { hub: shortPk(from), err: (err as Error).message });
      return;
    }
    const proven = ch.remotePublicKey.toString('hex');
    if (proven !== from || !this.hubs.has(proven)) {
      // The messenger said one key, the handshake proved another: a lying messenger.
      log.warn('refused a hub whose handshake key differs from the messenger\'s', { claimed: shortPk(from), proven: shortPk(proven) });
      ch.destroy();
      return;
    }
    this.links.get(proven)?.close('replaced by a newer link from the same hub');
    const shells = new Map<number, ShellSession>();
    const link: ControlLink = new ControlLink(ch, (m) => this.onRequest(proven, link, shells, m));
    this.links.set(proven, link);
    log.info('hub connected', { hub: shortPk(proven) });
    link.on('close', (reason: string) => {
      for (const s of shells.values()) s.close();
      shells.clear();
      if (this.links.get(proven) === link) this.links.delete(proven);
      log.info('hub link closed', { hub: shortPk(proven), reason });
    });
  }

  private async onRequest(hub: string, link: ControlLink, shells: Map<number, ShellSession>, m: ControlMessage): Promise<Record<string, unknown> | void> {
    const parsed = agentRequest.safeParse(m);
    if (!parsed.success) {
      this.badLog.note('malformed', { hub: shortPk(hub), t: String(m.t).slice(0, 40), problem: problem(parsed.error) });
      throw new ControlError('bad_request', `bad "${String(m.t).slice(0, 40)}" request: ${problem(parsed.error)}`);
    }
    const req = parsed.data;
    switch (req.t) {
      case 'hello':
        if (req.v !== PROTOCOL_VERSION) throw new ControlError('version', `this agent speaks cluster protocol ${PROTOCOL_VERSION}, not ${req.v}`);
        return { v: PROTOCOL_VERSION, version: machineStatus(this.engine).version };
      case 'status':
        return { status: machineStatus(this.engine) };
      case 'open': {
        if (shells.has(req.sid)) throw new ControlError('bad_request', `session ${req.sid} is already open`);
        if (shells.size >= MAX_SHELLS) throw new ControlError('limit', `at most ${MAX_SHELLS} sessions per hub`);
        const sid = req.sid;
        let dropped = 0;
        const push = (msg: ControlMessage) => {
          // A hub that does not read its output loses it rather than growing this process.
          if (link.channel.writableLength > MAX_OUTPUT_BACKLOG) return void dropped++;
          if (dropped) link.send({ t: 'info', sid, text: `${dropped} output message(s) dropped: the hub did not keep up` });
          dropped = 0;
          link.send(msg);
        };
        const session = new ShellSession(
          this.engine,
          {
            result: () => undefined, // the reply to `line` carries it
            output: (o) => push({ t: 'output', sid, id: o.id, stream: o.stream, chunk: o.chunk, lines: o.lines }),
            event: (e) => push({ t: 'event', sid, event: e.event, text: e.text, app: { ...e.app } }),
            info: (text) => push({ t: 'info', sid, text }),
            attachChanged: (id) => push({ t: 'attach', sid, attached: id ?? null }),
          },
          { interactive: req.interactive, columns: req.columns, noCluster: true },
        );
        shells.set(sid, session);
        return {};
      }
      case 'line': {
        const s = shells.get(req.sid);
        if (!s) throw new ControlError('bad_request', `no session ${req.sid}`);
        const result = await s.submit(req.text);
        return { result: result ?? null, attached: s.attachedId ?? null, following: s.isFollowing };
      }
      case 'close':
        shells.get(req.sid)?.close();
        shells.delete(req.sid);
        return {};
      case 'deploy': {
        if (!this.cfg.acceptDeploy) throw new ControlError('refused', 'this machine does not accept deploys (cluster.acceptDeploy is false)');
        const file = storeDeployed(this.engine.config.file, req.name, req.app, `hub ${shortPk(hub)}`);
        this.engine.reload();
        log.info('app definition deployed', { hub: shortPk(hub), app: req.name, file });
        return { text: `stored ${req.name} in ${file}` };
      }
    }
  }
}
