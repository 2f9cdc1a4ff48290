/**
 * The fault suite at test sizes (the soak, bench/faults/soak.ts, runs the same cases at the full sizes):
 * vxtun and kernel VXLAN side by side through the impairing relay, hostile datagrams during a transfer with every
 * one accounted for, peer reloads during a transfer, and a queue worker forced to fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hostileDatagrams,
  IMPAIRMENTS,
  impairedTransfer,
  peerReloads,
  startFaultSuite,
  tunFrames,
  workerFailure,
  type FaultSuite,
} from '../../bench/faults/cases.js';
import { isRoot } from '../netns/harness.js';

const MB = 1024 * 1024;

describe.runIf(isRoot)('fault suite', () => {
  let suite: FaultSuite;

  beforeAll(async () => {
    suite = await startFaultSuite();
  });

  afterAll(async () => {
    await suite?.destroy();
  });

  for (const [fault, spec] of IMPAIRMENTS) {
    it(`${fault}: a file crosses vxtun and kernel VXLAN intact`, async () => {
      const rows = await impairedTransfer(suite, fault, spec, 8 * MB);
      for (const row of rows) expect(row, row.seen).toMatchObject({ passed: true });
    });
  }

  it('hostile datagrams during a transfer: the file is intact and every datagram is counted where it was dropped', async () => {
    const r = await hostileDatagrams(suite, 1000, 8 * MB);
    expect(r.counted).toEqual(r.expected);
    expect(r.passed, r.seen).toBe(true);
  });

  it('hostile frames written into the TUN during a transfer: the file is intact and every frame is counted', async () => {
    const r = await tunFrames(suite, 300, 8 * MB);
    expect(r.passed, r.seen).toBe(true);
  });

  it('peer reloads during a transfer: the file is intact and every reload is logged', async () => {
    const r = await peerReloads(suite, 10, 32 * MB);
    expect(r.passed, r.seen).toBe(true);
  });

  it('a queue worker forced to fail restarts within 1 s while the other keeps forwarding', async () => {
    const r = await workerFailure(suite, 16 * MB);
    expect(r.restartMs).toBeLessThan(1000);
    expect(r.passed, r.seen).toBe(true);
  });
});
