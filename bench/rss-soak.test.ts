/**
 * The RSS soak as a user runs it, shortened: it exits with its verdict, prints the table, and its JSON holds
 * every sample of both forwarders and the traffic that crossed while they were taken.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoot, ROOT } from '../test/netns/harness.js';

const SOAK = join(ROOT, 'dist/bench/rss-soak.js');

describe.runIf(isRoot)('rss-soak', () => {
  const out = mkdtempSync(join(tmpdir(), 'vxtun-rss-soak-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('samples both forwarders every interval under TCP, UDP and ping traffic and writes them all to its JSON', async () => {
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [SOAK, '--duration', '6', '--interval', '1', '--out', out],
        { timeout: 60_000 },
        (err, stdout) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout }),
      );
      child.stdin?.end();
    });
    expect([0, 1]).toContain(run.code);
    expect(run.stdout).toMatch(/^host a +\| /m);
    expect(run.stdout).toMatch(/verdict: (flat|growing)/);
    const files = readdirSync(out).filter((f) => /^rss-soak-.*\.json$/.test(f));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
    // One sample at the start and one a second for 6 s.
    expect(result.samples.length).toBeGreaterThanOrEqual(6);
    for (const sample of result.samples) {
      for (const host of ['a', 'b']) {
        expect(sample.mb[host]).toBeGreaterThan(10);
        expect(sample.mb[host]).toBeLessThan(2000);
      }
    }
    expect(result.samples.at(-1).t).toBeGreaterThan(4);
    expect(result.traffic.tcpBytes).toBeGreaterThan(1e6);
    expect(result.traffic.udpPackets).toBeGreaterThan(100);
    expect(result.traffic.pingsAnswered).toBeGreaterThan(10);
    expect(result.forwarders.a.peakMb).toBe(Math.max(...result.samples.map((s: { mb: { a: number } }) => s.mb.a)));
    expect(['flat', 'growing']).toContain(result.verdict);
    expect(result.trafficOk).toBe(true);
    expect(run.code).toBe(result.verdict === 'flat' && result.withinBudget ? 0 : 1);
  });
});
