// The hub side: keeps a link to each machine listed in `cluster.machines`. The hub dials (a relayed messenger
// stream to the machine's key, then an end-to-end BOLT #8 handshake that proves that key), retries every
// second while a machine is offline, and dials at once when a listed machine's wake datagram arrives; a wake
// from any other key is logged and ignored. Online links answer a status request every second; no answer
// within 3 s, or the stream's end, makes the machine offline. Nothing about the machines' apps is stored here:
// each agent is the truth about its own machine, so a hub restart loses nothing.
import { ControlLink, type ControlMessage } from '../../net/control-link.js';
import { type KeyPair, parsePublicKey, shortPk } from '../../net/keys.js';
import { secureConnect } from '../../net/secure.js';
import { MessengerError } from '../../messenger/errors.js';
import type { MessengerClient } from '../../messenger/client.js';
import { createLogger, rateLimited } from '../../util/log.js';
import type { RemoteAnswer, RemoteShell, RoutedSession } from '../remote.js';
import type { ClusterConfig } from './config.js';
import {
  agentPush,
  CLUSTER_PORT,
  helloReply,
  lineReply,
  problem,
  PROTOCOL_VERSION,
  statusReply,
  STATUS_INTERVAL_MS,
  STATUS_TIMEOUT_MS,
  WAKE_DATAGRAM,
  type MachineStatus,
} from './protocol.js';

const log = createLogger('viscript.cluster.hub');
const RETRY_MS = 1000;

export class MachineOfflineError extends Error {}

export interface MachineView {
  name: string;
  pk: string;
  state: 'online' | 'offline';
  /** online: since when; offline: since when (undefined: never seen since the hub started). */
  since?: number;
  lastSeen?: number;
  status?: MachineStatus;
  /** Why it is offline, in words. */
  problem?: string;
}

interface Machine {
  name: string;
  pk: string;
  link?: ControlLink;
  connecting: boolean;
  since: number;
  everSeen: boolean;
  lastSeen?: number;
  status?: MachineStatus;
  problem?: string;
  poll?: NodeJS.Timeout;
  shells: Map<number, RoutedSession>;
  nextSid: number;
}

export class ClusterHub {
  private readonly machines = new Map<string, Machine>();
  private readonly byPk = new Map<string, Machine>();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly strangerLog = rateLimited(log, 'warn', 'refused a machine not in cluster.machines');
  private readonly badPushLog = rateLimited(log, 'warn', 'ignored a malformed message from a machine');

  constructor(
    cfg: ClusterConfig,
    private readonly messenger: MessengerClient,
    private readonly key: KeyPair,
  ) {
    const now = Date.now();
    for (const [name, pk] of cfg.machines) {
      const m: Machine = { name, pk, connecting: false, since: now, everSeen: false, shells: new Map(), nextSid: 1 };
      this.machines.set(name, m);
      this.byPk.set(pk, m);
    }
  }

  start(): void {
    this.messenger.on('datagram', this.onDatagram);
    this.messenger.on('connected', this.dialAll);
    this.timer = setInterval(this.dialAll, RETRY_MS);
    this.timer.unref();
    this.dialAll();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.messenger.off('datagram', this.onDatagram);
    this.messenger.off('connected', this.dialAll);
    for (const m of this.machines.values()) m.link?.close('hub stopping');
  }

  names(): string[] {
    return [...this.machines.keys()];
  }

  has(name: string): boolean {
    return this.machines.has(name);
  }

  view(): MachineView[] {
    return [...this.machines.values()].map((m) => ({
      name: m.name,
      pk: m.pk,
      state: m.link ? 'online' : 'offline',
      ...(m.link || m.everSeen ? { since: m.since } : {}),
      ...(m.lastSeen !== undefined ? { lastSeen: m.lastSeen } : {}),
      ...(m.status ? { status: m.status } : {}),
      ...(!m.link && m.problem ? { problem: m.problem } : {}),
    }));
  }

  /** The live link to `name`, or an error saying since when it is offline and why. */
  private linkOf(name: string): { m: Machine; link: ControlLink } {
    const m = this.machines.get(name);
    if (!m) throw new MachineOfflineError(`no machine named "${name}" (machines: ${this.names().join(', ') || 'none'}; see "lm")`);
    if (!m.link) {
      const since = m.everSeen ? `offline since ${clock(m.since)}` : 'offline (not seen since the hub started)';
      throw new MachineOfflineError(`${name} is ${since}${m.problem ? `: ${m.problem}` : ''}`);
    }
    return { m, link: m.link };
  }

  /** A request to the machine's agent; rejects at once when it is offline. */
  async request(name: string, msg: ControlMessage, timeoutMs = 15_000): Promise<ControlMessage> {
    const { link } = this.linkOf(name);
    return link.request(msg, timeoutMs);
  }

  /** Opens a shell session on the machine whose output and events go to `session`. */
  async openShell(name: string, session: RoutedSession): Promise<RemoteShell> {
    const { m, link } = this.linkOf(name);
    const sid = m.nextSid++;
    await link.request({ t: 'open', sid, interactive: session.interactive, ...(session.columns ? { columns: session.columns } : {}) });
    m.shells.set(sid, session);
    let closed = false;
    return {
      machine: name,
      submit: async (line: string): Promise<RemoteAnswer> => {
        if (closed || m.link !== link) throw new MachineOfflineError(`the link to ${name} is gone`);
        // No time limit of our own: a command like `sd` waits as long as it does locally; the link's end
        // (the machine gone) rejects it at once.
        const reply = await link.request({ t: 'line', sid, text: line }, 24 * 3600_000);
        const r = lineReply.safeParse(reply);
        if (!r.success) throw new Error(`${name} answered with a malformed result: ${problem(r.error)}`);
        return r.data;
      },
      close: () => {
        if (closed) return;
        closed = true;
        m.shells.delete(sid);
        if (m.link === link) link.send({ t: 'close', sid });
      },
    };
  }

  /**
   * One line on `name` in a session of its own, pipelined: open and line leave together, so the command costs
   * one relayed round trip, not two (`la @all` pays it once per machine). The agent handles a link's requests in
   * order, and opening a session completes before it reads the next request. Close follows the answer (closing
   * earlier would end the session under a running command).
   */
  async runOnce(name: string, line: string): Promise<RemoteAnswer> {
    const { m, link } = this.linkOf(name);
    const sid = m.nextSid++;
    const opened = link.request({ t: 'open', sid, interactive: false });
    const answered = link.request({ t: 'line', sid, text: line }, 24 * 3600_000);
    // A refused open (the agent's session limit) explains the line's "no session": report the open's error.
    answered.catch(() => undefined);
    let reply: ControlMessage;
    try {
      await opened;
      reply = await answered;
    } finally {
      if (m.link === link) link.send({ t: 'close', sid });
    }
    const r = lineReply.safeParse(reply);
    if (!r.success) throw new Error(`${name} answered with a malformed result: ${problem(r.error)}`);
    return r.data;
  }

  private readonly dialAll = (): void => {
    if (this.closed) return;
    for (const m of this.machines.values()) if (!m.link && !m.connecting) void this.dial(m);
  };

  private readonly onDatagram = (from: string, data: Buffer): void => {
    if (!data.equals(WAKE_DATAGRAM)) return; // not ours: other users of the key may send datagrams
    const m = this.byPk.get(from);
    if (!m) return this.strangerLog.note('not in cluster.machines', { from, hint: 'add it to cluster.machines (name: key) to manage it' });
    if (!m.link && !m.connecting) void this.dial(m);
  };

  private async dial(m: Machine): Promise<void> {
    m.connecting = true;
    let link: ControlLink | undefined;
    try {
      const raw = await this.messenger.open(m.pk, CLUSTER_PORT);
      raw.on('error', () => undefined);
      const ch = await secureConnect(raw, parsePublicKey(m.pk), { localKey: this.key, handshakeTimeoutMs: 10_000 });
      link = new ControlLink(ch, (msg) => this.onPush(m, msg));
      const hello = helloReply.safeParse(await link.request({ t: 'hello', v: PROTOCOL_VERSION }, 5000));
      if (!hello.success) throw new Error(`malformed hello: ${problem(hello.error)}`);
      const st = statusReply.safeParse(await link.request({ t: 'status' }, STATUS_TIMEOUT_MS));
      if (!st.success) throw new Error(`malformed status: ${problem(st.error)}`);
      if (this.closed) return link.close('hub stopping');
      this.online(m, link, st.data.status);
    } catch (err) {
      link?.close('refused: it answered the hello or status wrongly');
      m.problem = describeDialError(err, this.key);
      log.debug('dial failed', { machine: m.name, why: m.problem });
    } finally {
      m.connecting = false;
    }
  }

  private online(m: Machine, link: ControlLink, status: MachineStatus): void {
    m.link = link;
    m.status = status;
    m.since = m.lastSeen = Date.now();
    m.everSeen = true;
    m.problem = undefined;
    log.info('machine online', { machine: m.name });
    m.poll = setInterval(() => {
      link.request({ t: 'status' }, STATUS_TIMEOUT_MS).then(
        (reply) => {
          const st = statusReply.safeParse(reply);
          if (!st.success) return link.close(`malformed status: ${problem(st.error)}`);
          m.status = st.data.status;
          m.lastSeen = Date.now();
        },
        () => link.close(`no status answer within ${STATUS_TIMEOUT_MS / 1000} s`),
      );
    }, STATUS_INTERVAL_MS);
    m.poll.unref();
    link.on('close', (reason: string) => {
      clearInterval(m.poll);
      if (m.link !== link) return;
      m.link = undefined;
      m.since = Date.now();
      m.problem = `link lost: ${reason}`;
      log.info('machine offline', { machine: m.name, reason });
      for (const [sid, s] of m.shells) {
        s.remoteInfo(m.name, `the link to ${m.name} was lost (${reason})`);
        s.remoteAttach(m.name, null);
        m.shells.delete(sid);
      }
      if (!this.closed) setTimeout(() => this.dialAll(), 200).unref();
    });
  }

  /** Output, events and attach changes of a remote session, for the session that opened it. */
  private onPush(m: Machine, msg: ControlMessage): void {
    const r = agentPush.safeParse(msg);
    if (!r.success) return this.badPushLog.note(problem(r.error), { machine: m.name, t: String(msg.t).slice(0, 40) });
    const p = r.data;
    const s = m.shells.get(p.sid);
    if (!s) return;
    if (p.t === 'output') s.remoteOutput(m.name, { id: p.id, stream: p.stream, chunk: p.chunk, lines: p.lines });
    else if (p.t === 'event') s.remoteEvent(m.name, { event: p.event, text: p.text, app: p.app });
    else if (p.t === 'attach') s.remoteAttach(m.name, p.attached);
    else s.remoteInfo(m.name, p.text);
  }
}

function describeDialError(err: unknown, key: KeyPair): string {
  if (err instanceof MessengerError) {
    if (err.code === 'offline') return 'not connected to the messenger';
    if (err.code === 'refused') return 'its Viscript does not run as a cluster agent (nothing listens on the cluster port)';
    if (err.code === 'not_connected') return 'this hub is not connected to any messenger';
    return `${err.code}: ${err.message}`;
  }
  const msg = (err as Error).message ?? String(err);
  if (/before act 2|reset/i.test(msg)) return `the agent refused this hub (is ${key.publicKey.toString('hex')} in its cluster.hubs?)`;
  return msg;
}

/** A local wall-clock time, as `logs` stamps lines: 2026-11-27 13:05:01. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export { shortPk };
