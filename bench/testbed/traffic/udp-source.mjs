// Sends `count` datagrams "<seq>:<random payload>" of `size` bytes, paced; prints {"sent":N,"sha256":"…"}.
// Usage: node udp-source.mjs <address> <port> <count> <size>
import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';

const [host, port, count, size] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 1000)];
const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const hash = createHash('sha256');
let seq = 0;
function burst() {
  for (let i = 0; i < 50 && seq < count; i++, seq++) {
    const head = Buffer.from(`${seq}:`);
    const payload = randomBytes(Math.max(1, size - head.length));
    hash.update(payload);
    sock.send(Buffer.concat([head, payload]), port, host);
  }
  if (seq < count) setTimeout(burst, 5);
  else
    setTimeout(() => {
      console.log(JSON.stringify({ sent: seq, sha256: hash.digest('hex') }));
      sock.close();
    }, 50);
}
burst();
