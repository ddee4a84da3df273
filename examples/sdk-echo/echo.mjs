#!/usr/bin/env node
// A Skywire app in a few lines: it registers with its node on a mesh port, announces the service "echo", and
// writes back every stream another app dials to it. Every stream is an ordinary net.Socket.
// Usage: node echo.mjs [port]   (the node's API from SKYWIRE_APP_API_FILE, or SKYWIRE_APP_API + SKYWIRE_APP_TOKEN)
import { AppClient } from 'skywire-viscript/sdk';

const port = Number(process.argv[2] ?? 7);
if (!Number.isInteger(port) || port < 2 || port > 65535) {
  console.error(`sdk-echo: port "${process.argv[2]}" must be an integer 2-65535`);
  process.exit(2);
}

const app = await AppClient.connect({ name: 'sdk-echo', port });
app.listen((sock, remote) => {
  sock.on('error', () => {}); // a far end that resets is no reason to stop
  sock.pipe(sock);
  sock.once('end', () => console.log(`stream from ${remote.pk.slice(0, 8)}... ended`));
});
await app.announce({ name: 'echo' });
console.log(`echoing on ${app.localPk} port ${app.port}`);

// The node went away (stopped or restarted): exit with its reason, so a supervisor can restart the app.
app.on('close', (err) => {
  if (err) console.error(`sdk-echo: ${err.message}`);
  process.exit(err ? 1 : 0);
});
process.once('SIGINT', () => void app.close());
process.once('SIGTERM', () => void app.close());
