import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeResults } from './command.js';
import { run } from './testbed/process.js';
import { runBench } from './runner.js';
import { isRoot } from '../test/netns/harness.js';

describe.runIf(isRoot)('bench end to end (underlay and kernel VXLAN, 1 s)', () => {
  it('measures both modes on one testbed, writes JSON, Markdown and SVG, and removes its namespaces', async () => {
    const lines: string[] = [];
    const result = await runBench(
      { durationS: 1, repetitions: 1, modes: ['underlay', 'kernel-vxlan'], metrics: ['tcp1', 'ping'], mtu: 1500, profile: 'default' },
      (line) => lines.push(line),
    );
    const tcp = result.summary.find((s) => s.id === 'tcp1.ab');
    expect(tcp?.modes.underlay?.median).toBeGreaterThan(0.1);
    expect(tcp?.modes['kernel-vxlan']?.median).toBeGreaterThan(0.1);
    expect(result.summary.find((s) => s.id === 'ping.rtt')?.modes['kernel-vxlan']?.median).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.targets.find((t) => t.metric === 'tcp1.ab')?.met).toBeUndefined();
    expect(result.testbed.offloads.a['tcp-segmentation-offload']).toBe('on');
    expect(lines.some((l) => l.includes('kernel-vxlan TCP 1 stream a→b'))).toBe(true);

    const prefix = /testbed (vx[0-9a-f]+)/.exec(lines[0])?.[1];
    const { stdout } = await run(['ip', 'netns', 'list']);
    expect(prefix).toBeDefined();
    expect(stdout).not.toContain(`${prefix}a`);

    const dir = mkdtempSync(join(tmpdir(), 'vxtun-bench-test-'));
    try {
      const [json, md, svg] = writeResults(result, dir);
      expect(JSON.parse(readFileSync(json, 'utf8')).summary).toEqual(result.summary);
      expect(readFileSync(md, 'utf8')).toContain('| TCP 1 stream a→b | Gbit/s |');
      expect(readFileSync(svg, 'utf8')).toContain('<svg');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
