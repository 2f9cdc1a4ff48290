import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVxtunError } from '../../dataplane/errors.js';
import { parseProcessCpuTicks, parseSystemCpu } from './cpu.js';
import { parseIperfTcp, parseIperfUdp } from './iperf.js';
import { parsePing, parseSockperf } from './latency.js';

// Real output captured from iperf3 3.12, sockperf 3.7 and iputils ping between two namespaces on a veth pair.
const fixture = (name: string): string => readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8');

function benchError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isVxtunError(err) && err.code === 'VXTUN_ERR_BENCH').toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a VXTUN_ERR_BENCH error');
}

describe('iperf3 -J parsing', () => {
  it('reads receiver goodput and bytes of a TCP run', () => {
    const tcp = parseIperfTcp(fixture('iperf3-tcp1.json'));
    expect(tcp.bitsPerSecond).toBeCloseTo(16_896_292_453.97, 1);
    expect(tcp.bytes).toBe(2_112_224_528);
    expect(tcp.seconds).toBeCloseTo(1.000089, 6);
  });

  it('sums all streams of a reverse (-R -P 4) run', () => {
    const tcp = parseIperfTcp(fixture('iperf3-tcp4-reverse.json'));
    expect(tcp.bitsPerSecond).toBeCloseTo(39_711_171_660.5, 0);
    expect(tcp.bytes).toBe(4_964_546_728);
  });

  it('counts UDP packets that arrived per second, not packets sent', () => {
    const udp = parseIperfUdp(fixture('iperf3-udp64.json'));
    expect(udp.packetsPerSecond).toBeCloseTo((249_570 - 9_054) / 1.000188, 3);
    expect(udp.lostPercent).toBeCloseTo(3.6278, 4);
    expect(udp.receivedBytes).toBe((249_570 - 9_054) * 64);
  });

  it("turns iperf3's own error into a bench error that quotes it", () => {
    expect(benchError(() => parseIperfTcp(fixture('iperf3-error.json')))).toContain('unable to connect to server');
  });

  it('rejects output that is not iperf3 JSON, and TCP JSON read as UDP', () => {
    expect(benchError(() => parseIperfTcp('iperf3: error - unable to connect'))).toContain('no JSON');
    expect(benchError(() => parseIperfUdp(fixture('iperf3-tcp1.json')))).toContain('sum_received.packets');
  });
});

describe('sockperf and ping parsing', () => {
  it('reads the full-RTT percentiles of sockperf ping-pong (colour escapes included)', () => {
    const rtt = parseSockperf(fixture('sockperf-ping-pong.txt'));
    expect(rtt).toEqual({ p50Us: 63.023, p99Us: 107.019, averageUs: 64.554, observations: 8513 });
  });

  it('fails with the tail of the output when sockperf printed no percentiles', () => {
    expect(benchError(() => parseSockperf('sockperf: ERROR: no reply from server'))).toContain('no reply from server');
  });

  it('takes the median of per-reply ping times in microseconds', () => {
    const ping = parsePing(fixture('ping.txt'));
    expect(ping.medianUs).toBeCloseTo(56, 6);
    expect(ping.averageUs).toBeCloseTo(89.2, 6);
    expect([ping.transmitted, ping.received]).toEqual([5, 5]);
  });

  it('fails when no echo came back', () => {
    const text = 'PING 10.244.2.0 56(84) bytes\n\n--- ping statistics ---\n5 packets transmitted, 0 received, 100% packet loss';
    expect(benchError(() => parsePing(text))).toContain('no reply');
  });
});

describe('/proc CPU parsing', () => {
  it('adds utime and stime even when the command name holds spaces and parentheses', () => {
    const stat = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 7 0 99 0 0';
    expect(parseProcessCpuTicks(stat)).toBe(1234 + 567);
  });

  it('counts sys+irq+softirq as kernel time and everything but idle and iowait as busy', () => {
    const cpu = parseSystemCpu('cpu  4975 10 3284 1320341 246 5 227 20 0 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n', 100);
    expect(cpu.kernel).toBeCloseTo((3284 + 5 + 227) / 100, 9);
    expect(cpu.busy).toBeCloseTo((4975 + 10 + 3284 + 5 + 227) / 100, 9);
  });
});
