/** subnet.env as Flannel's CNI plugin reads it, written atomically, and read back for the previous subnet. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPreviousSubnet, writeSubnetEnv } from '../../../control/subnet/subnet-env.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('subnet.env', () => {
  it("writes flanneld's four lines in its order, creating the directory, leaving no temp file", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxtun-env-'));
    dirs.push(dir);
    const file = join(dir, 'run/flannel/subnet.env');
    writeSubnetEnv(file, { network: parseSubnet4('10.244.0.0/16')!, subnet: parseSubnet4('10.244.7.0/24')!, mtu: 1450, ipMasq: false });
    expect(readFileSync(file, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
    expect(readdirSync(join(dir, 'run/flannel'))).toEqual(['subnet.env']);
    expect(formatSubnet4(readPreviousSubnet(file)!)).toBe('10.244.7.0/24');
  });

  it('reads a subnet.env written by flanneld, and nothing from a missing or foreign file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxtun-env-'));
    dirs.push(dir);
    const file = join(dir, 'subnet.env');
    writeFileSync(
      file,
      'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
    expect(formatSubnet4(readPreviousSubnet(file)!)).toBe('10.5.72.0/24');
    writeFileSync(file, 'FLANNEL_SUBNET=nonsense\n');
    expect(readPreviousSubnet(file)).toBeUndefined();
    expect(readPreviousSubnet(join(dir, 'missing.env'))).toBeUndefined();
  });
});
