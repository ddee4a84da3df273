// Sky-Messenger in the browser: a view of the local chat app, which does the crypto and storage.
import { connect } from '../common/ws';
import { $, clock, h, shortPk } from '../common/dom';

interface Contact { pk: string; nickname: string; unread: number }
interface Message { id: string; peer: string; dir: 'in' | 'out'; text: string; ts: number; status: 'queued' | 'sent' | 'delivered' | 'read' }

const MARKS: Record<Message['status'], string> = { queued: '🕓 queued', sent: '✓ sent', delivered: '✓✓ delivered', read: '✓✓ read' };

interface Request { pk: string; firstAt: number; lastAt: number; count: number; preview: string }

let contacts: Contact[] = [];
let requests: Request[] = [];
let current: string | undefined;
const shown = new Map<string, HTMLElement>(); // message id -> element, for the open conversation

const text = $('#text') as HTMLTextAreaElement;
const sendBtn = $('#composer button') as HTMLButtonElement;

function toast(msg: string) {
  const t = $('#toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout((t as HTMLElement & { timer?: number }).timer);
  (t as HTMLElement & { timer?: number }).timer = window.setTimeout(() => (t.hidden = true), 5000);
}

const nameOf = (pk: string) => contacts.find((c) => c.pk === pk)?.nickname || shortPk(pk);

function renderContacts() {
  const list = $('#contacts');
  list.replaceChildren(
    ...contacts.map((c) => {
      const li = h('li', { 'data-pk': c.pk, class: c.pk === current ? 'active' : '' },
        h('div', {}, h('span', { class: 'nick' }, c.nickname || shortPk(c.pk)), h('code', { class: 'pk' }, shortPk(c.pk))),
        c.unread && c.pk !== current ? h('span', { class: 'badge', 'data-testid': 'unread' }, String(c.unread)) : undefined);
      li.onclick = () => openChat(c.pk);
      return li;
    }));
}

function renderRequests() {
  const section = $('#requests');
  section.hidden = requests.length === 0;
  $('#requests-count').textContent = requests.length ? `(${requests.length})` : '';
  $('#request-list').replaceChildren(
    ...requests.map((r) => {
      const accept = h('button', { type: 'button', 'data-testid': 'accept' }, 'Accept');
      const ignore = h('button', { type: 'button', 'data-testid': 'ignore' }, 'Ignore');
      accept.onclick = () => link.send({ type: 'accept', peer: r.pk, nickname: '' });
      ignore.onclick = () => link.send({ type: 'ignore', peer: r.pk });
      return h('li', { class: 'request', 'data-pk': r.pk },
        h('div', {}, h('code', { class: 'pk' }, shortPk(r.pk)), h('span', { class: 'meta' }, ` ${r.count} message${r.count === 1 ? '' : 's'}`)),
        h('div', { class: 'preview' }, r.preview),
        h('div', { class: 'actions' }, accept, ignore));
    }));
}

function messageEl(m: Message): HTMLElement {
  const mark = m.dir === 'out' ? h('span', { class: `mark ${m.status}`, 'data-testid': 'mark' }, MARKS[m.status]) : undefined;
  return h('li', { class: `msg ${m.dir}`, 'data-id': m.id, 'data-status': m.status },
    h('span', { class: 'text' }, m.text), h('span', { class: 'meta' }, clock(m.ts), mark ? ' ' : undefined, mark));
}

function showMessage(m: Message) {
  if (m.peer !== current) return;
  const el = messageEl(m);
  const old = shown.get(m.id);
  if (old) old.replaceWith(el);
  else $('#messages').append(el);
  shown.set(m.id, el);
  el.scrollIntoView({ block: 'end' });
}

function openChat(pk: string) {
  current = pk;
  shown.clear();
  $('#messages').replaceChildren();
  $('#peer-name').textContent = nameOf(pk);
  $('#peer-pk').textContent = pk;
  text.disabled = sendBtn.disabled = false;
  text.focus();
  link.send({ type: 'open', peer: pk });
  link.send({ type: 'read', peer: pk });
  renderContacts();
}

const link = connect((msg) => {
  switch (msg.type) {
    case 'init':
      $('#my-pk').textContent = String(msg.me);
      contacts = msg.contacts as Contact[];
      requests = msg.requests as Request[];
      setOnline(Boolean(msg.online));
      renderContacts();
      renderRequests();
      if (current) openChat(current);
      break;
    case 'contacts':
      contacts = msg.contacts as Contact[];
      renderContacts();
      break;
    case 'requests':
      requests = msg.requests as Request[];
      renderRequests();
      break;
    case 'history':
      if (msg.peer === current) for (const m of msg.messages as Message[]) showMessage(m);
      break;
    case 'message': {
      const m = msg.message as Message;
      showMessage(m);
      if (m.dir === 'in' && m.peer === current && document.visibilityState === 'visible') link.send({ type: 'read', peer: m.peer });
      break;
    }
    case 'status':
      if (shown.has((msg.message as Message).id)) showMessage(msg.message as Message);
      break;
    case 'online':
      setOnline(Boolean(msg.online));
      break;
    case 'error':
      toast(String(msg.message));
      break;
  }
}, (open) => {
  if (!open) setOnline(false, 'reconnecting to the chat app…');
});

function setOnline(on: boolean, why?: string) {
  const c = $('#conn');
  c.className = on ? 'on' : 'off';
  c.textContent = why ?? (on ? 'connected to the messenger' : 'messenger offline: messages are queued');
}

$('#add-contact').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const pk = ($('#new-pk') as HTMLInputElement).value.trim();
  const nickname = ($('#new-nick') as HTMLInputElement).value;
  if (!/^[0-9a-fA-F]{66}$/.test(pk)) {
    toast('A public key is 66 hex characters (33-byte compressed secp256k1).');
    return;
  }
  link.send({ type: 'addContact', pk, nickname });
  ($('#add-contact') as HTMLFormElement).reset();
});

function send() {
  const value = text.value;
  if (!current || !value.trim()) return;
  link.send({ type: 'send', peer: current, text: value });
  text.value = '';
}
$('#composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  send();
});
text.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) {
    ev.preventDefault();
    send();
  }
});
$('#copy-pk').addEventListener('click', () => void navigator.clipboard?.writeText($('#my-pk').textContent ?? ''));
document.addEventListener('visibilitychange', () => {
  if (current && document.visibilityState === 'visible') link.send({ type: 'read', peer: current });
});
