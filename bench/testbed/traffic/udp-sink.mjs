// Receives datagrams "<seq>:<payload>" until it has `count` distinct ones or the timeout passes; prints
// {"received":N,"distinct":N,"sha256":"…"} where the hash covers the payloads in sequence order.
// Usage: node udp-sink.mjs <bind-address> <port> <count> <timeout-ms>
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';

const [host, port, count, timeoutMs] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5] ?? 20000),
];
const seen = new Map();
let received = 0;
// A large buffer: bursts leave the TUN back to back, and a default 208 KB buffer overflows on skb overhead.
const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 16 << 20 });
const finish = () => {
  const hash = createHash('sha256');
  for (const k of [...seen.keys()].sort((a, b) => a - b)) hash.update(seen.get(k));
  console.log(JSON.stringify({ received, distinct: seen.size, sha256: hash.digest('hex') }));
  sock.close();
  clearTimeout(timer);
};
const timer = setTimeout(finish, timeoutMs);
sock.on('message', (msg) => {
  received++;
  const colon = msg.indexOf(58);
  seen.set(Number(msg.subarray(0, colon).toString()), msg.subarray(colon + 1));
  if (seen.size >= count) finish();
});
sock.bind(port, host, () => console.error('udp-sink: listening'));
