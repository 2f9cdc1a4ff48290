// Accepts one TCP connection, hashes everything it receives, prints {"bytes":N,"sha256":"…"} and exits.
// Usage: node tcp-sink.mjs <bind-address> <port> <timeout-ms>
import net from 'node:net';
import { createHash } from 'node:crypto';

const [host, port, timeoutMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 60000)];
const timer = setTimeout(() => {
  console.error('tcp-sink: timed out');
  process.exit(2);
}, timeoutMs);
const server = net.createServer((sock) => {
  const hash = createHash('sha256');
  let bytes = 0;
  sock.on('data', (d) => {
    hash.update(d);
    bytes += d.length;
  });
  sock.on('end', () => {
    console.log(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
    clearTimeout(timer);
    server.close();
    sock.end();
  });
  sock.on('error', (e) => {
    console.error(`tcp-sink: ${e.message}`);
    process.exit(3);
  });
});
server.listen(port, host, () => console.error('tcp-sink: listening'));
