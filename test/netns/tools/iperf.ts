/** Several TCP flows at once through the overlay: iperf3 with parallel streams, each from its own source port. */
import type { HostName, Testbed } from '../../../bench/testbed/index.js';
import { waitFor } from '../harness.js';

export interface IperfReport {
  end: { streams: { sender: { bytes: number } }[] };
}

/** Runs a one-off iperf3 server on `to` (bound to addr) and a client on `from` with `streams` parallel streams. */
export async function iperfFlows(
  tb: Testbed,
  from: HostName,
  to: HostName,
  addr: string,
  streams: number,
  port = 5211,
  bytes = '4M',
): Promise<IperfReport> {
  const server = tb.spawn(to, ['iperf3', '-s', '-1', '--forceflush', '-B', addr, '-p', String(port)]);
  try {
    await waitFor(() => server.output().includes('Server listening'), 5_000, 'iperf3 server listening');
    const client = await tb.exec(from, ['iperf3', '-c', addr, '-p', String(port), '-P', String(streams), '-n', bytes, '-J'], {
      timeoutMs: 20_000,
    });
    return JSON.parse(client.stdout) as IperfReport;
  } finally {
    await server.stop(2000);
  }
}
