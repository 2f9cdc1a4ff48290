import { describe, expect, it } from 'vitest';
import { collectFailures, evaluateTargets, summarizeRuns, type BenchResult, type RunRecord } from '../result.js';
import { renderMarkdown } from './markdown.js';
import { renderSvg } from './svg.js';

function result(): BenchResult {
  const runs: RunRecord[] = [];
  const tcp = { underlay: [19, 20, 21], 'kernel-vxlan': [14, 15, 16], vxtun: [7, 7.5, 8] } as const;
  for (let rep = 1; rep <= 3; rep++) {
    for (const mode of ['underlay', 'kernel-vxlan'] as const) {
      runs.push({ rep, mode, samples: { 'tcp1.ab': tcp[mode][rep - 1], 'latency.p50': mode === 'underlay' ? 12 : 60 }, errors: {} });
    }
    runs.push({
      rep,
      mode: 'vxtun',
      samples: { 'tcp1.ab': tcp.vxtun[rep - 1], 'rss.peak': 90 },
      errors: { 'latency.p50': 'sockperf output lacks the 50th percentile: <no reply>' },
    });
  }
  runs.push({ rep: 4, mode: 'vxtun', error: 'vxtun exited (1) before it was ready', samples: {}, errors: {} });
  const modes = ['underlay', 'kernel-vxlan', 'vxtun'] as const;
  const summary = summarizeRuns(runs, modes);
  return {
    schema: 1,
    startedAt: '2026-11-23T15:00:00.000Z',
    finishedAt: '2026-11-23T15:05:00.000Z',
    commit: '0123456789abcdef0123456789abcdef01234567',
    dirty: false,
    machine: { kernel: '6.18.0', cpus: 2, cpuModel: 'AMD EPYC', node: 'v20.20.2' },
    options: { durationS: 10, repetitions: 3 },
    testbed: { underlayMtu: 1500, overlayMtu: 1450, profile: 'default', offloads: { a: { 'generic-receive-offload': 'off' } } },
    modes,
    runs,
    summary,
    targets: evaluateTargets(summary),
    failures: collectFailures(runs),
  };
}

describe('Markdown report', () => {
  const md = renderMarkdown(result());

  it('shows median (min–max) per mode and the vxtun / kernel ratio', () => {
    expect(md).toContain('| TCP 1 stream a→b | Gbit/s | 20.0 (19.0–21.0) | 15.0 (14.0–16.0) | 7.50 (7.00–8.00) | 0.50× |');
  });

  it('marks a metric a mode could not produce as failed, and one that does not apply with a dash', () => {
    expect(md).toMatch(/\| Request\/response p50 \| µs \| 12\.0 \| 60\.0 \| failed \| – \|/);
    expect(md).toContain('| Forwarder peak RSS | MB | – | – | 90.0 | – |');
  });

  it('lists every target with met / not met / not measured', () => {
    expect(md).toContain('| TCP 1 stream a→b | vxtun ≥ 0.80 × kernel | 7.50 Gbit/s | 15.0 Gbit/s | **not met** |');
    expect(md).toContain('| Forwarder peak RSS | vxtun ≤ 150 MB | 90.0 MB | – | **met** |');
    expect(md).toContain('| UDP 64 B received | vxtun ≥ 0.80 × kernel | – | – | not measured |');
  });

  it('states the testbed, commit and each failure reason', () => {
    expect(md).toContain('Commit `0123456789ab`');
    expect(md).toContain('offload profile `default`');
    expect(md).toContain('generic-receive-offload off');
    expect(md).toContain('- vxtun: vxtun exited (1) before it was ready');
    expect(md).toContain('- vxtun latency.p50: sockperf output lacks the 50th percentile: &lt;no reply&gt;');
  });
});

describe('SVG chart', () => {
  const svg = renderSvg(result());

  it('is one well-formed SVG document with a legend entry per mode', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<text /g)?.length).toBe(svg.match(/<\/text>/g)?.length);
    for (const mode of ['underlay', 'kernel-vxlan', 'vxtun']) expect(svg).toContain(`>${mode}</text>`);
  });

  it('draws bars normalised to kernel VXLAN: vxtun at half the height of kernel for half the throughput', () => {
    const heights = [...svg.matchAll(/<rect [^>]*height="([\d.]+)" fill="#[0-9a-f]+"><title>([^<]*)<\/title>/g)].map((m) => ({
      height: Number(m[1]),
      title: m[2],
    }));
    const bar = (prefix: string) => heights.find((h) => h.title.startsWith(prefix))?.height;
    expect(bar('vxtun TCP 1 stream a→b')).toBeCloseTo((bar('kernel-vxlan TCP 1 stream a→b') ?? 0) / 2, 6);
    expect(svg).toContain('>7.50</text>');
  });

  it('labels a mode without a value as failed and escapes text', () => {
    expect(svg).toMatch(/>failed<\/text>/);
    expect(svg).not.toMatch(/<no reply>/);
  });
});

describe('report with the userspace tunnels', () => {
  const modes = ['underlay', 'kernel-vxlan', 'vxtun', 'tinc', 'openvpn', 'wireguard-go'] as const;
  const runs: RunRecord[] = modes.map((mode, i) => ({ rep: 1, mode, samples: { 'tcp1.ab': 10 - i, 'tcp1.ba': 9 - i }, errors: {} }));
  const summary = summarizeRuns(runs, modes);
  const six: BenchResult = {
    ...result(),
    modes,
    runs,
    summary,
    targets: evaluateTargets(summary),
    failures: [],
    modeDetails: {
      'wireguard-go': 'wireguard-go v0.0.20220316; ChaCha20-Poly1305: encrypted',
      tinc: 'tinc version 1.0.36; Cipher = none, Digest = none: unencrypted',
    },
  };

  it('gives every mode a column, marks the encrypted one, and says what each tunnel ran', () => {
    const md = renderMarkdown(six);
    expect(md).toContain(
      '| Metric | Unit | underlay | kernel-vxlan | vxtun | tinc | openvpn | wireguard-go (encrypted) | ' + 'vxtun / kernel-vxlan |',
    );
    expect(md).toContain('| TCP 1 stream a→b | Gbit/s | 10.0 | 9.00 | 8.00 | 7.00 | 6.00 | 5.00 | 0.89× |');
    expect(md).toContain('- `tinc`: tinc version 1.0.36; Cipher = none, Digest = none: unencrypted');
  });

  it('draws six bars per metric without one group running into the next, and a legend entry per mode', () => {
    const svg = renderSvg(six);
    for (const mode of ['tinc', 'openvpn', 'wireguard-go (encrypted)']) expect(svg).toContain(`>${mode}</text>`);
    const bars = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" [^>]*><title>(\S+) (TCP 1 stream a→b|TCP 1 stream b→a)/g),
    ].map((m) => ({ x: Number(m[1]), right: Number(m[1]) + Number(m[2]), metric: m[4] }));
    expect(bars).toHaveLength(12);
    const lastOfFirst = Math.max(...bars.filter((b) => b.metric === 'TCP 1 stream a→b').map((b) => b.right));
    const firstOfSecond = Math.min(...bars.filter((b) => b.metric === 'TCP 1 stream b→a').map((b) => b.x));
    expect(firstOfSecond).toBeGreaterThan(lastOfFirst);
    const width = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)?.[1]);
    expect(Math.max(...bars.map((b) => b.right))).toBeLessThan(width);
  });
});

describe('a run over a WAN', () => {
  const plain = result();
  const overWan: BenchResult = {
    ...plain,
    testbed: {
      ...plain.testbed,
      tcpCongestionControl: 'bbr',
      wan: {
        delayMs: 10,
        lossPct: 0.5,
        method: 'a userspace relay (bench/faults/tun-relay.mjs)',
        relay: { relayed: 200_000, loss: 1000, queueFull: 0, sendFailed: 0, tunQueueFull: 37 },
      },
    },
  };
  const md = renderMarkdown(overWan);

  it('states the WAN, how it is made and what the relay dropped, in the table and the chart', () => {
    expect(md).toContain('WAN: delay 10 ms, loss 0.5 % each way (userspace relay)');
    expect(md).toContain('made by a userspace relay (bench/faults/tun-relay.mjs)');
    expect(md).toContain('dropped 1000 for the loss (0.500 % of them)');
    expect(md).toContain('37 waited for the relay in a full queue');
    expect(md).toContain('TCP congestion control `bbr`');
    expect(md).toContain('a throughput target met or missed here says little about the packet path');
    expect(renderMarkdown(plain)).not.toContain('says little about the packet path');
    expect(renderSvg(overWan)).toContain('WAN: delay 10 ms, loss 0.5 % each way (userspace relay)');
    expect(renderMarkdown(plain)).toContain('WAN: none');
  });

  it("names the modes that came within 20 % of the underlay, the relay's ceiling", () => {
    // underlay 20 Gbit/s, kernel-vxlan 15 (75 %), vxtun 7.5: none capped; at 16.5 kernel-vxlan is.
    expect(md).toContain("No mode reached 80 % of the underlay's throughput");
    const summary = overWan.summary.map((row) =>
      row.id === 'tcp1.ab' ? { ...row, modes: { ...row.modes, 'kernel-vxlan': { ...row.modes['kernel-vxlan']!, median: 16.5 } } } : row,
    );
    expect(renderMarkdown({ ...overWan, summary })).toContain('held back by the relay rather than by themselves');
    expect(renderMarkdown({ ...overWan, summary })).toContain('TCP 1 stream a→b: kernel-vxlan.');
  });
});
