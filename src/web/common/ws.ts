// The websocket back to the GUI server (authorised by the cookie the token was traded for), with
// reconnect and backoff, so a restarted server or a dropped connection heals by itself.
export interface Link {
  send(msg: unknown): void;
}

export function connect(onMessage: (msg: Record<string, unknown>) => void, onState: (open: boolean) => void): Link {
  let ws: WebSocket | undefined;
  let delay = 250;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 250;
      onState(true);
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
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    },
  };
}
