import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isVxtunError } from '../../dataplane/errors.js';
import { createTestbed, overlayPlan, repoRoot, startVxtun, type Testbed } from './index.js';
import { isRoot } from '../../test/netns/harness.js';

// Runs the built forwarder (`npm run build`, which `npm test` does first).
const built = existsSync(join(repoRoot(), 'dist', 'control', 'cli.js'));

describe.runIf(isRoot)('startVxtun', () => {
  let tb: Testbed | undefined;
  afterEach(async () => {
    await tb?.destroy();
    tb = undefined;
  });

  it.runIf(built)('starts vxtun static on both hosts so the overlay addresses reach each other, and stops it', async () => {
    tb = await createTestbed();
    const plan = overlayPlan(tb);
    const a = await startVxtun(tb, 'a', plan.a);
    const b = await startVxtun(tb, 'b', plan.b);
    const ping = await tb.exec('a', ['ping', '-c', '2', '-W', '2', plan.b.overlayIp]);
    expect(ping.stdout).toContain('2 received');
    await a.stop();
    await b.stop();
    expect(() => process.kill(a.pid, 0)).toThrow();
    const links = await tb.exec('a', ['ip', 'link', 'show']);
    expect(links.stdout).not.toContain('vxtun0');
  });

  it.runIf(built)('reports a forwarder that exits before it is ready, with its own message', async () => {
    tb = await createTestbed();
    const plan = overlayPlan(tb);
    const err = await startVxtun(tb, 'a', { ...plan.a, extraConfig: { tunName: 'name-longer-than-15' } }).catch((e) => e);
    expect(isVxtunError(err) && err.code === 'VXTUN_ERR_BENCH').toBe(true);
    expect(String(err)).toContain('before it was ready');
    expect(String(err)).toContain('tunName');
  });
});
