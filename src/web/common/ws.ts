// The websocket back to the GUI server (authorised by the cookie the token was traded for), with
// reconnect and backoff, so a restarted server or a dropped connection heals by itself. What the page sends
// while the socket is not open (a click right after the page loads, or during a reconnect) waits in a small
// outbox and goes out on open, instead of being dropped.
export interface Link {
  send(msg: unknown): void;
}

export function connect(onMessage: (msg: Record<string, unknown>) => void, onState: (open: boolean) => void): Link {
  let ws: WebSocket | undefined;
  let delay = 250;
  const outbox: string[] = [];
  const MAX_OUTBOX = 100;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 250;
      onState(true);
      for (const m of outbox.splice(0)) ws?.send(m);
    };
    ws.onmessage = (ev) => {
      try {
        const msg = JSON.parse(String(ev.data)) as unknown;
        if (msg && typeof msg === 'object') onMessage(msg as Record<string, unknown>);
      } catch {
        // the server only sends JSON; ignore anything else
      }
    };
    ws.onclose = () => {
      onState(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    };
  };
  open();
  return {
    send(msg) {
      const text = JSON.stringify(msg);
      if (ws?.readyState === WebSocket.OPEN) ws.send(text);
      else if (outbox.length < MAX_OUTBOX) outbox.push(text);
    },
  };
}
