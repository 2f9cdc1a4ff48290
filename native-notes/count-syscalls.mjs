// Counts what one 64 KB of TCP payload costs vxtun in calls and CPU: one iperf3 stream a -> b through
// `vxtun static` on a fresh two-namespace testbed, per offload profile; both forwarders' "final stats" (their
// own counters) are read on exit, their CPU time (utime + stime, all threads) and context switches from /proc. Needs root and `npm run build` (it imports dist/). Every run is bounded (iperf3 -t, time limits).
// Profiles: the testbed's `default` and `nic`, and `nic+sw-tunnel-seg`: `nic` with UDP-tunnel segmentation switched
// off on a's veth *after* vxtun started (so the tunnel route, which checks the device only at start, stays on and
// the kernel segments its frames in software: what the route would cost on a NIC without that offload).
// Usage: sudo node native-notes/count-syscalls.mjs [seconds per profile, default 5]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createTestbed, overlayPlan, startVxtun } from '../dist/bench/testbed/index.js';
import { IPERF_PORT, parseIperfTcp, runIperfClient } from '../dist/bench/metrics/iperf.js';

const seconds = Number(process.argv[2] ?? 5);
const PER = 64_000; // payload bytes of one super-packet, the unit of super-packets.md

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** utime and stime of a process, all threads (fields 14 and 15 of /proc/<pid>/stat), in seconds. */
function cpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS };
}

/** Context switches of all threads of a process: voluntary ones are the sleeps in poll() (and locks). */
function switches(pid) {
  let voluntary = 0;
  let involuntary = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

for (const profile of ['default', 'nic', 'nic+sw-tunnel-seg']) {
  const tb = await createTestbed({ offloadProfile: profile === 'default' ? 'default' : 'nic' });
  try {
    const plan = overlayPlan(tb);
    const a = await startVxtun(tb, 'a', plan.a);
    const b = await startVxtun(tb, 'b', plan.b);
    if (profile === 'nic+sw-tunnel-seg') {
      await tb.exec('a', ['ethtool', '-K', tb.hosts.a.dev, 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off']);
    }
    const server = tb.spawn('b', ['iperf3', '-s', '-1', '-B', plan.b.overlayIp, '-p', String(IPERF_PORT)]);
    await new Promise((r) => setTimeout(r, 500));
    const before = [switches(a.pid), switches(b.pid)];
    const cpuBefore = [cpu(a.pid), cpu(b.pid)];
    const tcp = parseIperfTcp(
      await runIperfClient(tb, 'a', plan.b.overlayIp, { streams: 1, reverse: false, udp64: false, durationS: seconds }),
    );
    const after = [switches(a.pid), switches(b.pid)];
    const cpuAfter = [cpu(a.pid), cpu(b.pid)];
    await server.stop(1000);
    const [sa, sb] = [await a.stop(), await b.stop()];
    const per = (n) => (n / (tcp.bytes / PER)).toFixed(2);
    console.log(
      `profile ${profile}: ${(tcp.bitsPerSecond / 1e9).toFixed(2)} Gbit/s, ${(tcp.bytes / 1e9).toFixed(2)} GB; ` +
        `per ${PER} B of payload:`,
    );
    console.log(
      `  host a (TX): tunReads ${per(sa.tunReads)}, sends ${per(sa.txSyscalls)} (of them whole to the tunnel TAP ${per(sa.tunnelWrites)}), ` +
        `datagrams sent ${per(sa.txDatagrams)}; its RX of the ACKs: recvmmsg ${per(sa.rxSyscalls)}, tunWrites ${per(sa.tunWrites)}`,
    );
    console.log(
      `  host b (RX): recvmmsg calls ${per(sb.rxSyscalls)}, datagrams received ${per(sb.rxDatagrams)}, ` +
        `tunWrites ${per(sb.tunWrites)}; its TX of the ACKs: tunReads ${per(sb.tunReads)}, sendmmsg ${per(sb.txSyscalls)}`,
    );
    for (const [i, host] of ['a', 'b'].entries()) {
      const us = (k) => (((cpuAfter[i][k] - cpuBefore[i][k]) * 1e6) / (tcp.bytes / PER)).toFixed(1);
      console.log(
        `  host ${host}: forwarder CPU ${us('user')} us user + ${us('system')} us system; context switches ` +
          '(all threads) voluntary ' +
          `${per(after[i].voluntary - before[i].voluntary)}, involuntary ${per(after[i].involuntary - before[i].involuntary)}`,
      );
    }
  } finally {
    await tb.destroy();
  }
}
