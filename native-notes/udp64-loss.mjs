// Where 64-byte UDP is lost through vxtun: one `iperf3 -u -l 64 -b 0` from a to b on a fresh two-namespace testbed,
// then what the sender offered and iperf3 received beside both forwarders' own counters from their "final stats"
// (the TUN queue's drops on a, datagrams sent and received, TUN writes on b). Needs root and `npm run build`
// (it imports dist/). Bounded: iperf3 -t, a time limit on every command.
// Usage: sudo node native-notes/udp64-loss.mjs [seconds, default 5]
import { createTestbed, overlayPlan, startVxtun } from '../dist/bench/testbed/index.js';

const seconds = Number(process.argv[2] ?? 5);
const tb = await createTestbed();
try {
  const plan = overlayPlan(tb);
  const a = await startVxtun(tb, 'a', plan.a);
  const b = await startVxtun(tb, 'b', plan.b);
  const server = tb.spawn('b', ['iperf3', '-s', '-1', '-B', plan.b.overlayIp]);
  await new Promise((r) => setTimeout(r, 500));
  const client = await tb.exec('a', ['iperf3', '-c', plan.b.overlayIp, '-u', '-l', '64', '-b', '0', '-t', String(seconds), '-J'], {
    timeoutMs: (seconds + 15) * 1000,
  });
  await server.stop(1000);
  const sum = JSON.parse(client.stdout).end.sum;
  const received = sum.packets - sum.lost_packets;
  const kpps = (n) => `${(n / sum.seconds / 1000).toFixed(0)} kpps`;
  console.log(`sender offered ${sum.packets} datagrams (${kpps(sum.packets)}); iperf3 on b received ${received} (${kpps(received)})`);
  const [sa, sb] = [await a.stop(), await b.stop()];
  console.log(`  host a: TUN queue dropped ${sa.kernelDrops.tunTxQueue}; vxtun read ${sa.tunReads} and sent ${sa.txDatagrams} datagrams`);
  console.log(
    `  host b: vxtun received ${sb.rxDatagrams} datagrams, wrote them in ${sb.tunWrites} TUN writes; ` +
      `socket overflows ${sb.kernelDrops.socketOverflow}; the rest of the loss (${sb.rxPackets - received}) is after the TUN write`,
  );
} finally {
  await tb.destroy();
}
