// Parsing of "host:port" strings as users type them (IPv6 in brackets: "[::1]:80").

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultHost?: string): HostPort {
  const s = text.trim();
  let host: string;
  let portText: string;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
  } else {
    const i = s.lastIndexOf(':');
    if (i < 0) {
      if (defaultHost !== undefined && /^\d+$/.test(s)) {
        host = defaultHost;
        portText = s;
      } else {
        throw new Error(`"${text}" is not HOST:PORT`);
      }
    } else {
      host = s.slice(0, i);
      portText = s.slice(i + 1);
      if (host.includes(':')) throw new Error(`"${text}": put an IPv6 address in brackets, e.g. [::1]:${portText}`);
    }
  }
  if (!/^\d+$/.test(portText)) throw new Error(`"${text}": port "${portText}" is not a number`);
  const port = Number(portText);
  if (port < 0 || port > 65535) throw new Error(`"${text}": port ${port} is out of range 0-65535`);
  if (!host) host = defaultHost ?? '127.0.0.1';
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
