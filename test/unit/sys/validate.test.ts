import { describe, expect, it } from 'vitest';
import { isVxtunError } from '../../../dataplane/errors.js';
import { addonCandidates } from '../../../dataplane/sys/native.js';
import { sysError } from '../../../dataplane/sys/syserror.js';
import { configureLink, openTun } from '../../../dataplane/sys/tun.js';
import { openUdp } from '../../../dataplane/sys/udp.js';
import { addressBytes } from '../../../dataplane/sys/validate.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isVxtunError(e) ? e.code : `not a VxtunError: ${String(e)}`;
  }
  return undefined;
}

const tun = { name: 'vxt0', multiQueue: false, vnetHdr: false, queues: 1 };
const udp = { family: 4 as const, address: '127.0.0.1', port: 0, reusePort: false, bufferBytes: 0, gro: false };
const link = { mtu: 1400, addresses: [], routes: [] };

describe('sys argument validation', () => {
  it.each([
    ['a name longer than 15 bytes', { ...tun, name: 'x'.repeat(16) }],
    ['a name with a slash', { ...tun, name: 'a/b' }],
    ['an empty name', { ...tun, name: '' }],
    ['zero queues', { ...tun, queues: 0 }],
    ['257 queues', { ...tun, multiQueue: true, queues: 257 }],
    ['two queues without multiQueue', { ...tun, queues: 2 }],
    ['a non-boolean vnetHdr', { ...tun, vnetHdr: 1 }],
  ])('openTun rejects %s', (_what, opts) => {
    expect(codeOf(() => openTun(opts as never))).toBe('VXTUN_ERR_INVALID_ARGUMENT');
  });

  it.each([
    ['family 5', { ...udp, family: 5 }],
    ['an IPv6 address on an IPv4 socket', { ...udp, address: '::1' }],
    ['a hostname', { ...udp, address: 'localhost' }],
    ['port 65536', { ...udp, port: 65536 }],
    ['a fractional port', { ...udp, port: 1.5 }],
    ['negative buffer bytes', { ...udp, bufferBytes: -1 }],
  ])('openUdp rejects %s', (_what, opts) => {
    expect(codeOf(() => openUdp(opts as never))).toBe('VXTUN_ERR_INVALID_ARGUMENT');
  });

  it.each([
    ['MTU 67', { ...link, mtu: 67 }],
    ['MTU 65536', { ...link, mtu: 65536 }],
    [
      'two IPv4 addresses',
      {
        ...link,
        addresses: [
          { family: 4, addr: '10.0.0.0', prefixLen: 32 },
          { family: 4, addr: '10.0.1.0', prefixLen: 32 },
        ],
      },
    ],
    ['an IPv4 prefix of 33', { ...link, routes: [{ family: 4, dst: '10.0.0.0', prefixLen: 33 }] }],
    ['an IPv6 route given an IPv4 address', { ...link, routes: [{ family: 6, dst: '10.0.0.0', prefixLen: 64 }] }],
    ['a 5-byte address', { ...link, addresses: [{ family: 4, addr: new Uint8Array(5), prefixLen: 32 }] }],
  ])('configureLink rejects %s', (_what, cfg) => {
    expect(codeOf(() => configureLink('vxt0', cfg as never))).toBe('VXTUN_ERR_INVALID_ARGUMENT');
  });

  it('parses address literals and passes byte forms through', () => {
    expect([...addressBytes('a', 4, '10.244.3.0')]).toEqual([10, 244, 3, 0]);
    expect([...addressBytes('a', 6, 'fd00:1::5')]).toEqual([0xfd, 0, 0, 1, ...new Array(11).fill(0), 5]);
    const raw = Uint8Array.of(1, 2, 3, 4);
    expect(addressBytes('a', 4, raw)).toBe(raw);
  });
});

describe('sys errors', () => {
  it('maps EPERM and EACCES to VXTUN_ERR_PERMISSION with what to do', () => {
    const e = sysError('VXTUN_ERR_TUN_OPEN', 'opening TUN vx0', -1, 'unused');
    expect(e.code).toBe('VXTUN_ERR_PERMISSION');
    expect(e.message).toMatch(/opening TUN vx0 failed with EPERM: run as root or grant CAP_NET_ADMIN/);
    expect(sysError('VXTUN_ERR_LINK', 'x', -13, 'h').code).toBe('VXTUN_ERR_PERMISSION');
  });

  it('keeps the area code and names the errno otherwise', () => {
    const e = sysError('VXTUN_ERR_UDP_SOCKET', 'binding UDP 1.2.3.4:8472', -99, 'check the address');
    expect(e.code).toBe('VXTUN_ERR_UDP_SOCKET');
    expect(e.errno).toBe(99);
    expect(e.message).toBe('binding UDP 1.2.3.4:8472 failed with EADDRNOTAVAIL: check the address');
  });

  it('finds the addon from both the source and the compiled location', () => {
    const want = '/pkg/dataplane/native/build/Release/vxtun_native.node';
    expect(addonCandidates('/pkg/dataplane/sys')).toContain(want);
    expect(addonCandidates('/pkg/dist/dataplane/sys')).toContain(want);
  });
});
