// Connects, sends N random bytes, prints {"bytes":N,"sha256":"…"} of what it sent, and exits.
// Usage: node tcp-source.mjs <address> <port> <bytes> <timeout-ms>
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const [host, port, total, timeoutMs] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5] ?? 60000),
];
const timer = setTimeout(() => {
  console.error('tcp-source: timed out');
  process.exit(2);
}, timeoutMs);
const hash = createHash('sha256');
let sent = 0;
const sock = net.connect({ host, port }, () => pump());
sock.on('error', (e) => {
  console.error(`tcp-source: ${e.message}`);
  process.exit(3);
});
function pump() {
  while (sent < total) {
    const chunk = randomBytes(Math.min(256 * 1024, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!sock.write(chunk)) {
      sock.once('drain', pump);
      return;
    }
  }
  sock.end(() => {
    console.log(JSON.stringify({ bytes: sent, sha256: hash.digest('hex') }));
    clearTimeout(timer);
  });
}
