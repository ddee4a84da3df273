// The chat's browser UI: serves web-dist/chat/ and mirrors the ChatApp over a websocket.
// Browser -> server messages are validated; anything else gets an {type:'error'} answer and is ignored.
import { z } from 'zod';
import { startGuiServer, type GuiClient, type GuiServer } from '../../util/gui-server.js';
import { MAX_NICKNAME, MAX_TEXT_BYTES, type ChatApp } from './app.js';
import type { Contact } from './store.js';

const Request = z.discriminatedUnion('type', [
  z.object({ type: z.literal('addContact'), pk: z.string().max(200), nickname: z.string().max(MAX_NICKNAME * 4) }),
  z.object({ type: z.literal('open'), peer: z.string().max(200) }),
  // Length in UTF-16 units here only bounds the parse; the app checks the 8 KiB of UTF-8 with a clear message.
  z.object({ type: z.literal('send'), peer: z.string().max(200), text: z.string().max(MAX_TEXT_BYTES * 2) }),
  z.object({ type: z.literal('read'), peer: z.string().max(200) }),
  z.object({ type: z.literal('accept'), peer: z.string().max(200), nickname: z.string().max(MAX_NICKNAME * 4).optional() }),
  z.object({ type: z.literal('ignore'), peer: z.string().max(200) }),
]);

/** How much of a request's first message the page gets before the user accepts it. */
const PREVIEW_CHARS = 280;
/** Bursts of stranger messages are pushed to the page as one update. */
const REQUESTS_PUSH_MS = 200;

export interface ChatWebOptions {
  host?: string;
  port?: number;
  token?: string;
  app: ChatApp;
}

export async function startChatWeb(o: ChatWebOptions): Promise<GuiServer> {
  const { app } = o;
  const views = async () => {
    const list: Array<Contact & { unread: number }> = [];
    for (const c of await app.contacts()) list.push({ ...c, unread: (await app.unreadCount(c.pk)) });
    return list;
  };
  // Previews only: a page is told about every stranger, so what it gets per stranger stays small.
  const requestViews = () => ({
    requests: app.requests().map((r) => ({
      pk: r.pk,
      firstAt: r.firstAt,
      lastAt: r.lastAt,
      count: r.messages.length + r.dropped,
      preview: r.messages[0]?.text.slice(0, PREVIEW_CHARS) ?? '',
    })),
    stats: app.requestStats(),
  });
  const gui = await startGuiServer({
    host: o.host,
    port: o.port,
    token: o.token,
    page: 'chat/index.html',
    maxMessageBytes: 64 * 1024,
    onClient(client: GuiClient) {
      void (async () => client.send({ type: 'init', me: app.pk, online: app.online, contacts: await views(), ...requestViews() }))();
      client.onMessage((raw) => {
        const parsed = Request.safeParse(raw);
        if (!parsed.success) {
          client.send({ type: 'error', message: 'malformed request' });
          return;
        }
        const req = parsed.data;
        const fail = (err: Error) => client.send({ type: 'error', message: err.message });
        switch (req.type) {
          case 'addContact':
            app.addContact(req.pk, req.nickname).catch(fail);
            break;
          case 'open':
            app.history(req.peer).then((messages) => client.send({ type: 'history', peer: req.peer, messages }), fail);
            break;
          case 'send':
            app.send(req.peer, req.text).catch(fail);
            break;
          case 'read':
            app.markRead(req.peer).catch(fail);
            break;
          case 'accept':
            app.accept(req.peer, req.nickname ?? '').catch(fail);
            break;
          case 'ignore':
            app.ignore(req.peer).catch(fail);
            break;
        }
      });
    },
  });
  const pushContacts = async () => gui.broadcast({ type: 'contacts', contacts: await views() });
  app.on('contact', () => void pushContacts());
  app.on('message', (message) => {
    gui.broadcast({ type: 'message', message });
    if (message.dir === 'in') void pushContacts();
  });
  app.on('status', (message) => {
    gui.broadcast({ type: 'status', message });
    if (message.dir === 'in') void pushContacts();
  });
  app.on('online', (online) => gui.broadcast({ type: 'online', online }));
  let requestsTimer: NodeJS.Timeout | undefined;
  app.on('requests', () => {
    if (requestsTimer) return;
    requestsTimer = setTimeout(() => {
      requestsTimer = undefined;
      gui.broadcast({ type: 'requests', ...requestViews() });
    }, REQUESTS_PUSH_MS);
    requestsTimer.unref();
  });
  return gui;
}
