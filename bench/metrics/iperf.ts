import { setTimeout as sleep } from 'node:timers/promises';
import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from '../testbed/netns.js';

export interface TcpResult {
  /** Goodput at the receiver. */
  readonly bitsPerSecond: number;
  /** Bytes the receiver got: what crossed the tunnel. */
  readonly bytes: number;
  readonly seconds: number;
}

export interface UdpResult {
  /** Datagrams that arrived, per second of the test. */
  readonly packetsPerSecond: number;
  readonly lostPercent: number;
  readonly sentPackets: number;
  readonly receivedBytes: number;
}

interface IperfSum {
  seconds?: number;
  bytes?: number;
  bits_per_second?: number;
  packets?: number;
  lost_packets?: number;
  lost_percent?: number;
}

interface IperfJson {
  error?: string;
  start?: { test_start?: { protocol?: string } };
  end?: { sum_received?: IperfSum; sum?: IperfSum };
}

function parse(text: string): IperfJson {
  let json: IperfJson;
  try {
    json = JSON.parse(text) as IperfJson;
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_BENCH', `iperf3 printed no JSON result: ${text.trim().slice(0, 300)}`, {
      cause: err,
    });
  }
  if (typeof json.error === 'string') throw new VxtunError('VXTUN_ERR_BENCH', `iperf3: ${json.error}`);
  return json;
}

function need(value: number | undefined, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new VxtunError('VXTUN_ERR_BENCH', `iperf3 JSON lacks end.${field}: was this a run of iperf3 -J?`);
  }
  return value;
}

/** Receiver-side goodput of an `iperf3 -J` TCP run (also with -R or -P: sum_received covers all streams). */
export function parseIperfTcp(text: string): TcpResult {
  const sum = parse(text).end?.sum_received;
  return {
    bitsPerSecond: need(sum?.bits_per_second, 'sum_received.bits_per_second'),
    bytes: need(sum?.bytes, 'sum_received.bytes'),
    seconds: need(sum?.seconds, 'sum_received.seconds'),
  };
}

/** Packets received per second of an `iperf3 -J -u` run, from the receiver's summary. */
export function parseIperfUdp(text: string): UdpResult {
  const sum = parse(text).end?.sum_received;
  const packets = need(sum?.packets, 'sum_received.packets');
  const lost = need(sum?.lost_packets, 'sum_received.lost_packets');
  const seconds = need(sum?.seconds, 'sum_received.seconds');
  return {
    packetsPerSecond: seconds > 0 ? (packets - lost) / seconds : 0,
    lostPercent: need(sum?.lost_percent, 'sum_received.lost_percent'),
    sentPackets: packets,
    receivedBytes: need(sum?.bytes, 'sum_received.bytes'),
  };
}

export const IPERF_PORT = 5201;

export interface IperfRun {
  readonly streams: number;
  readonly reverse: boolean;
  /** UDP with 64-byte payloads at unlimited rate instead of TCP. */
  readonly udp64: boolean;
  readonly durationS: number;
}

/** Runs one iperf3 client on `client` against a server at `serverIp`; returns its JSON text. Bounded in time. */
export async function runIperfClient(tb: Testbed, client: HostName, serverIp: string, opts: IperfRun): Promise<string> {
  const argv = [
    'iperf3',
    '-J',
    '-c',
    serverIp,
    '-p',
    String(IPERF_PORT),
    '-t',
    String(opts.durationS),
    '-P',
    String(opts.streams),
    '--connect-timeout',
    '3000',
  ];
  if (opts.reverse) argv.push('-R');
  if (opts.udp64) argv.push('-u', '-l', '64', '-b', '0');
  // iperf3's server closes its listening socket when a test ends and opens it again for the next (iperf_run_server
  // listens, cleanup_server closes): a client that connects in between is refused. Try again a few times, a second
  // apart; a server that is gone still fails.
  for (let attempt = 1; ; attempt++) {
    const result = await tb.exec(client, argv, { timeoutMs: (opts.durationS + 20) * 1000, allowFail: true });
    if (result.code === null) {
      throw new VxtunError('VXTUN_ERR_BENCH', `iperf3 did not finish within ${opts.durationS + 20} s`);
    }
    if (attempt >= CONNECT_ATTEMPTS || !result.stdout.includes('unable to connect to server: Connection refused')) return result.stdout;
    await sleep(1000);
  }
}

const CONNECT_ATTEMPTS = 3;
