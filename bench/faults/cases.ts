/**
 * The fault suite's cases, shared by the tests (test/faults/, small sizes) and the soak (bench/faults/soak.ts, the
 * full sizes). Model: etcd's robustness tests and Jepsen: a fault schedule, a workload with known content (a file
 * with its sha256, counted datagrams), a checker that reads what survived. vxtun and the kernel's VXLAN (set up as
 * Flannel does) run side by side across the same impairing relay (bed.ts): kernel VXLAN on port 8472 with overlay
 * 10.244.0.0/16, vxtun on 4789 with 10.245.0.0/16.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupFlannelVxlan } from '../testbed/kernel-vxlan.js';
import { randomVtepMac } from '../testbed/overlay.js';
import { tcpTransfer } from '../testbed/transfer.js';
import { repoRoot, startVxtun, writeStaticConfig, type LogLine, type RunningVxtun } from '../testbed/vxtun.js';
import type { HostName } from '../testbed/netns.js';
import { createRelayBed, kernelSnmp, type RelayBed } from './bed.js';

/** One row of the results table: what was done, what was checked, what was seen. */
export interface FaultRow {
  fault: string;
  tunnel: 'vxtun' | 'kernel VXLAN';
  checked: string;
  seen: string;
  passed: boolean;
}

const KERNEL = { port: 8472, network: '10.244.0.0/16', subnet: { a: '10.244.1.0/24', b: '10.244.2.0/24' } };
const VXTUN = { port: 4789, network: '10.245.0.0/16', subnet: { a: '10.245.1.0/24', b: '10.245.2.0/24' } };
const MB = 1024 * 1024;
const other = (h: HostName): HostName => (h === 'a' ? 'b' : 'a');

export interface FaultSuite {
  readonly bed: RelayBed;
  readonly vxtun: Record<HostName, RunningVxtun>;
  readonly vtepMac: Record<HostName, string>;
  /** Stops both forwarders and removes everything the suite created. */
  destroy(): Promise<void>;
}

/**
 * The relay bed with kernel VXLAN and vxtun on both hosts. vxtun logs its counters every second
 * (counters() reads them) and takes the test hook (SIGUSR2 fails worker 0).
 */
export async function startFaultSuite(workers = 2): Promise<FaultSuite> {
  const bed = await createRelayBed();
  const vxtun: Partial<Record<HostName, RunningVxtun>> = {};
  const vtepMac = { a: randomVtepMac(), b: randomVtepMac() };
  const kernelMac = { a: randomVtepMac(), b: randomVtepMac() };
  const destroy = async () => {
    await Promise.allSettled([vxtun.a?.stop(), vxtun.b?.stop()]);
    await bed.destroy();
  };
  try {
    for (const h of ['a', 'b'] as const) {
      await setupFlannelVxlan(bed.tb, h, {
        port: KERNEL.port,
        subnet: KERNEL.subnet[h],
        vtepMac: kernelMac[h],
        underlay: bed.side[h],
        peers: [{ publicIp: bed.side[h].peerIp, subnet: KERNEL.subnet[other(h)], vtepMac: kernelMac[other(h)] }],
      });
    }
    const previous = process.env.VXTUN_TEST_HOOKS;
    process.env.VXTUN_TEST_HOOKS = '1';
    try {
      for (const h of ['a', 'b'] as const) {
        vxtun[h] = await startVxtun(bed.tb, h, {
          port: VXTUN.port,
          network: VXTUN.network,
          subnet: VXTUN.subnet[h],
          vtepMac: vtepMac[h],
          publicIp: bed.side[h].ip,
          peers: [{ publicIp: bed.side[h].peerIp, subnet: VXTUN.subnet[other(h)], vtepMac: vtepMac[other(h)] }],
          extraConfig: { workers },
          extraArgs: ['--stats-interval', '1'],
        });
      }
    } finally {
      if (previous === undefined) delete process.env.VXTUN_TEST_HOOKS;
      else process.env.VXTUN_TEST_HOOKS = previous;
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { bed, vxtun: vxtun as Record<HostName, RunningVxtun>, vtepMac, destroy };
}

type Stats = Record<string, number> & {
  drops: Record<string, number>;
  kernelDrops: Record<string, number>;
  perWorker: Record<string, number>[];
};

/** The counters of a `stats` line logged after now (vxtun logs one every second). */
async function counters(v: RunningVxtun): Promise<Stats> {
  const line = await v.waitForLog('stats', v.logs('stats').length + 2, 5_000);
  return line.stats as Stats;
}

/** The relay impairments every tunnel is put through: name, relay.mjs spec. */
export const IMPAIRMENTS: readonly [string, string][] = [
  ['1 % loss', 'loss=0.01'],
  ['5 % reordered', 'reorder=0.05'],
  ['5 % duplicated', 'duplicate=0.05'],
  ['0.5 % inner bit flips', 'corruptInner=0.005'],
  ['0.5 % outer (VXLAN/Ethernet header) bit flips', 'corruptOuter=0.005'],
  ['0.5 % inner bit flips, zero outer UDP checksums', 'corruptInner=0.005,zeroChecksum=1'],
  ['all of the above at once', 'loss=0.01,reorder=0.05,duplicate=0.05,corruptInner=0.005,corruptOuter=0.005'],
];

/** Both tunnels move `bytes` a -> b at once through the relay impaired by `spec`; each file's sha256 is compared. */
export async function impairedTransfer(s: FaultSuite, fault: string, spec: string, bytes: number): Promise<FaultRow[]> {
  await s.bed.startRelay([KERNEL.port, VXTUN.port], spec);
  let relayed: Record<string, number> = {};
  const runs = await Promise.allSettled([
    tcpTransfer(s.bed.tb, 'a', 'b', '10.244.2.0', bytes, 5201, 120_000),
    tcpTransfer(s.bed.tb, 'a', 'b', '10.245.2.0', bytes, 5202, 120_000),
  ]).finally(async () => {
    relayed = await s.bed.stopRelay();
  });
  const impaired = Object.entries(relayed)
    .filter(([k, v]) => k !== 'relayed' && v > 0)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return (['kernel VXLAN', 'vxtun'] as const).map((tunnel, i) => {
    const r = runs[i];
    const ok = r.status === 'fulfilled' && r.value.received.sha256 === r.value.sent.sha256 && r.value.received.bytes === bytes;
    const seen =
      r.status === 'rejected' ? `failed: ${(r.reason as Error).message.slice(0, 120)}` : ok ? 'sha256 matches' : 'sha256 DIFFERS';
    return {
      fault,
      tunnel,
      checked: `${bytes / MB} MB over TCP a→b, sha256 on both ends`,
      seen: `${seen}; relay (both tunnels): ${impaired || 'nothing impaired'}`,
      passed: ok,
    };
  });
}

/** Where each hostile kind must be counted on the receiving host. */
const HOSTILE_REASON: Record<string, string> = {
  short: 'short',
  badFlags: 'badFlags',
  random: 'badFlags',
  wrongVni: 'wrongVni',
  notOurMac: 'notOurMac',
  badEthertype: 'badEthertype',
  badInner: 'badInner',
  truncated: 'badInner',
  spoofedSource: 'spoofedSource',
  badChecksum: 'badChecksum',
  badIpChecksum: 'badChecksum',
};

/**
 * `rounds` of every hostile kind (bench/faults/hostile-sender.mjs) from the peer's address, and `rounds` bad-flag
 * datagrams from an address that holds no lease, at host b's vxtun while `bytes` cross a -> b. Checked: the file
 * is intact, and vxtun's drop counters plus the kernel's (ICMP checksum errors, socket overflows) account for
 * every hostile datagram.
 */
export async function hostileDatagrams(
  s: FaultSuite,
  rounds: number,
  bytes: number,
): Promise<FaultRow & { expected: Record<string, number>; counted: Record<string, number> }> {
  const { bed } = s;
  const stranger = '198.19.2.77';
  await bed.inRelay('ip', 'addr', 'add', `${stranger}/32`, 'dev', `${bed.tb.prefix}rbr`).catch(() => undefined);
  await bed.startRelay([KERNEL.port, VXTUN.port], 'none');
  const before = await counters(s.vxtun.b);
  const snmpBefore = await kernelSnmp(bed.tb, 'b');
  const sender = join(repoRoot(), 'bench/faults/hostile-sender.mjs');
  const send = (bind: string, kinds: string) =>
    bed.inRelay(
      'node',
      sender,
      bed.side.b.ip,
      String(VXTUN.port),
      '1',
      s.vtepMac.b,
      '10.245.1.0',
      '10.245.2.0',
      String(rounds),
      bind,
      kinds,
    );
  let transfer: Awaited<ReturnType<typeof tcpTransfer>>;
  let fromPeer: Record<string, number>;
  let fromStranger: Record<string, number>;
  try {
    const [t, p, x] = await Promise.all([
      tcpTransfer(bed.tb, 'a', 'b', '10.245.2.0', bytes, 5203, 300_000),
      send(bed.side.b.peerIp, 'all'),
      send(stranger, 'badFlags'),
    ]);
    transfer = t;
    fromPeer = JSON.parse(p.stdout) as Record<string, number>;
    fromStranger = JSON.parse(x.stdout) as Record<string, number>;
  } finally {
    await bed.stopRelay();
  }
  const after = await counters(s.vxtun.b);
  const snmpAfter = await kernelSnmp(bed.tb, 'b');
  const expected: Record<string, number> = { noPeer: fromStranger.badFlags, icmpInCsumErrors: fromPeer.badIcmpChecksum };
  for (const [kind, n] of Object.entries(fromPeer)) {
    const reason = HOSTILE_REASON[kind];
    if (reason !== undefined) expected[reason] = (expected[reason] ?? 0) + n;
  }
  const counted: Record<string, number> = { icmpInCsumErrors: snmpAfter['Icmp.InCsumErrors'] - snmpBefore['Icmp.InCsumErrors'] };
  for (const reason of Object.keys(expected))
    if (reason !== 'icmpInCsumErrors') counted[reason] = (after.drops[reason] ?? 0) - (before.drops[reason] ?? 0);
  const overflow = after.kernelDrops.socketOverflow - before.kernelDrops.socketOverflow;
  const sent = Object.values(fromPeer).reduce((a, b) => a + b, 0) + fromStranger.badFlags;
  const accounted = Object.values(counted).reduce((a, b) => a + b, 0);
  // Exact per reason; datagrams the kernel dropped at a full socket before vxtun saw them (counted, but not by kind) may make up a shortfall.
  const exact = Object.keys(expected).every((k) => counted[k] === expected[k]);
  const withinOverflow = Object.keys(expected).every((k) => counted[k] <= expected[k]) && sent - accounted <= overflow;
  const intact = transfer.received.sha256 === transfer.sent.sha256;
  return {
    fault: `${sent.toLocaleString('en-US')} hostile datagrams (12 kinds, one from a stranger) during a transfer`,
    tunnel: 'vxtun',
    checked: `${bytes / MB} MB sha256; every datagram in vxtun's drops or the kernel's counters`,
    seen:
      `${intact ? 'sha256 matches' : 'sha256 DIFFERS'}; ${accounted.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} counted by reason` +
      `${overflow > 0 ? `, ${overflow} socket overflows` : ''} (${Object.entries(counted)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    passed: intact && (exact || withinOverflow),
    expected,
    counted,
  };
}

/** Where each hostile TUN frame kind (bench/faults/tun-inject.py) must be counted by the forwarder that reads it. */
const TUN_FRAME_REASON: Record<string, string> = { badVersion: 'badInner', lengthMismatch: 'badInner', gsoSizeOne: 'malformedGso' };

/**
 * `rounds` of each hostile frame kind written into host a's TUN by a local program (AF_PACKET with
 * PACKET_VNET_HDR: malformed IP, a TCP super-packet whose GSO size makes 1,400 segments) while `bytes` cross
 * a -> b. Checked: the file is intact and every frame the kernel let through is counted by reason.
 */
export async function tunFrames(s: FaultSuite, rounds: number, bytes: number): Promise<FaultRow> {
  const a = s.vxtun.a;
  const before = await counters(a);
  await s.bed.startRelay([VXTUN.port], 'none');
  let r: Awaited<ReturnType<typeof tcpTransfer>>;
  let injected: Record<string, number>;
  try {
    const [t, out] = await Promise.all([
      tcpTransfer(s.bed.tb, 'a', 'b', '10.245.2.0', bytes, 5206, 120_000),
      s.bed.tb.exec(
        'a',
        ['python3', join(repoRoot(), 'bench/faults/tun-inject.py'), 'vxtun0', '10.245.1.0', '10.245.2.0', String(rounds)],
        { timeoutMs: 120_000 },
      ),
    ]);
    r = t;
    injected = JSON.parse(out.stdout) as Record<string, number>;
  } finally {
    await s.bed.stopRelay();
  }
  const after = await counters(a);
  const expected: Record<string, number> = {};
  for (const [kind, n] of Object.entries(injected)) expected[TUN_FRAME_REASON[kind]] = (expected[TUN_FRAME_REASON[kind]] ?? 0) + n;
  const counted = Object.fromEntries(Object.keys(expected).map((k) => [k, (after.drops[k] ?? 0) - (before.drops[k] ?? 0)]));
  const sent = Object.values(injected).reduce((x, y) => x + y, 0);
  const accounted = Object.values(counted).reduce((x, y) => x + y, 0);
  const queueDrops = after.kernelDrops.tunTxQueue - before.kernelDrops.tunTxQueue;
  const intact = r.received.sha256 === r.sent.sha256;
  // Frames the kernel dropped at the TUN's full queue (counted there, not by kind) may make up a shortfall.
  const exact = Object.keys(expected).every((k) => counted[k] <= expected[k]) && sent - accounted <= queueDrops;
  return {
    fault: `${sent.toLocaleString('en-US')} hostile frames into the TUN (malformed IP, bogus GSO header) during a transfer`,
    tunnel: 'vxtun',
    checked: `${bytes / MB} MB sha256; every frame counted by reason, or by the kernel at the TUN's queue`,
    seen:
      `${intact ? 'sha256 matches' : 'sha256 DIFFERS'}; ${Object.entries(counted)
        .map(([k, v]) => `${k} ${v} of ${expected[k]}`)
        .join(', ')}` + `${queueDrops > 0 ? `; the TUN's queue dropped ${queueDrops} packets (frames or transfer)` : ''}`,
    passed: intact && exact,
  };
}

/** `count` peer reloads (config rewritten, SIGHUP) on host b while `bytes` cross a -> b through vxtun. */
export async function peerReloads(s: FaultSuite, count: number, bytes: number): Promise<FaultRow> {
  const b = s.vxtun.b;
  const config = JSON.parse(readFileSync(b.configFile, 'utf8')) as { peers: object[] };
  const extra = { publicIp: '198.19.2.99', subnet: '10.245.99.0/24', vtepMac: randomVtepMac() };
  const start = b.logs('config reloaded').length;
  await s.bed.startRelay([VXTUN.port], 'none');
  let r: Awaited<ReturnType<typeof tcpTransfer>>;
  let done = false;
  let duringTransfer = 0;
  try {
    const transfer = tcpTransfer(s.bed.tb, 'a', 'b', '10.245.2.0', bytes, 5204, 120_000).finally(() => {
      done = true;
    });
    for (let i = 1; i <= count; i++) {
      if (!done) duringTransfer++;
      writeStaticConfig(b.configFile, { ...config, peers: i % 2 === 1 ? [...config.peers, extra] : config.peers });
      b.signal('SIGHUP');
      await b.waitForLog('config reloaded', start + i, 5_000);
    }
    writeStaticConfig(b.configFile, config);
    r = await transfer;
  } finally {
    await s.bed.stopRelay();
  }
  const reloads = b.logs('config reloaded').length - start;
  const intact = r.received.sha256 === r.sent.sha256;
  return {
    fault: `${count} peer reloads (SIGHUP, a peer added and removed) during a transfer`,
    tunnel: 'vxtun',
    checked: `${bytes / MB} MB over TCP a→b, sha256; every reload logged, all while the transfer ran`,
    seen: `${intact ? 'sha256 matches' : 'sha256 DIFFERS'}; ${reloads} reloads logged, ${duringTransfer} during the transfer`,
    passed: intact && reloads === count && duringTransfer === count,
  };
}

/**
 * Worker 0 of host b is made to fail (test hook) while `bytes` cross a -> b. Checked: it is restarted within 1 s
 * (the log's own timestamps), the other worker forwarded meanwhile, and the file is intact.
 */
export async function workerFailure(s: FaultSuite, bytes: number): Promise<FaultRow & { restartMs: number }> {
  const b = s.vxtun.b;
  const exits = b.logs('worker exited').length;
  const restarts = b.logs('worker restarted').length;
  const before = await counters(b);
  await s.bed.startRelay([VXTUN.port], 'none');
  let r: Awaited<ReturnType<typeof tcpTransfer>>;
  let failed: LogLine;
  let back: LogLine;
  try {
    const transfer = tcpTransfer(s.bed.tb, 'a', 'b', '10.245.2.0', bytes, 5205, 120_000);
    await new Promise((res) => setTimeout(res, 300));
    b.signal('SIGUSR2');
    failed = await b.waitForLog('worker exited', exits + 1, 5_000);
    back = await b.waitForLog('worker restarted', restarts + 1, 5_000);
    r = await transfer;
  } finally {
    await s.bed.stopRelay();
  }
  const after = await counters(b);
  const restartMs = Date.parse(String(back.time)) - Date.parse(String(failed.time));
  const otherMoved =
    after.perWorker[1].rxPackets + after.perWorker[1].txPackets > before.perWorker[1].rxPackets + before.perWorker[1].txPackets;
  const intact = r.received.sha256 === r.sent.sha256;
  return {
    fault: 'queue worker 0 forced to fail (test hook) during a transfer',
    tunnel: 'vxtun',
    checked: `restarted within 1 s; worker 1 kept forwarding; ${bytes / MB} MB sha256`,
    seen: `restarted after ${restartMs} ms; worker 1 ${otherMoved ? 'forwarded' : 'moved NOTHING'}; ${intact ? 'sha256 matches' : 'sha256 DIFFERS'}`,
    passed: restartMs < 1000 && otherMoved && intact,
    restartMs,
  };
}
