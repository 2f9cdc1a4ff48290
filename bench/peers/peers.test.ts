import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { isVxtunError } from '../../dataplane/errors.js';
import { isRoot } from '../../test/netns/harness.js';
import { createTestbed, type Testbed } from '../testbed/netns.js';
import { openvpnArgs } from './openvpn.js';
import { tincFiles, tincKeys, tincMtu } from './tinc.js';
import { peerEnds, setUpPeerTunnel, type PeerEnd, type PeerEnds, type PeerTool } from './userspace.js';
import { wgSetArgs, wireguardKeyPair, wireguardMtu } from './wireguard-go.js';

const end = (host: 'a' | 'b', underlayIp: string): PeerEnd => ({
  host,
  device: `vx12ab${host}t`,
  underlayIp,
  subnet: host === 'a' ? '10.244.1.0/24' : '10.244.2.0/24',
  overlayIp: host === 'a' ? '10.244.1.0' : '10.244.2.0',
  mtu: 1450,
});
const ends: PeerEnds = { a: end('a', '198.18.7.1'), b: end('b', '198.18.7.2') };

/** A raw 32-byte X25519 key as base64 → a KeyObject, through the fixed DER prefixes of PKCS#8 and SPKI. */
const x25519Private = (b64: string) =>
  createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.from(b64, 'base64')]),
    format: 'der',
    type: 'pkcs8',
  });
const x25519Public = (b64: string) =>
  createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), Buffer.from(b64, 'base64')]),
    format: 'der',
    type: 'spki',
  });

describe('userspace tunnel configs', () => {
  it("tinc: router mode on the host's device, host a connects to b, no cipher and no digest for either host", () => {
    const files = tincFiles(ends, tincKeys(), '/run/x');
    expect(Object.keys(files).sort()).toEqual([
      'a/hosts/a',
      'a/hosts/b',
      'a/rsa_key.priv',
      'a/tinc.conf',
      'b/hosts/a',
      'b/hosts/b',
      'b/rsa_key.priv',
      'b/tinc.conf',
    ]);
    expect(files['a/tinc.conf']).toMatch(/^Name = a\nInterface = vx12abat\nDeviceType = tun\nMode = router\n/);
    expect(files['a/tinc.conf']).toContain('ConnectTo = b\n');
    expect(files['b/tinc.conf']).not.toContain('ConnectTo');
    expect(files['b/tinc.conf']).toContain('PrivateKeyFile = /run/x/b/rsa_key.priv\n');
    for (const path of ['a/hosts/b', 'b/hosts/b']) {
      expect(files[path]).toMatch(/^Address = 198\.18\.7\.2 655\nSubnet = 10\.244\.2\.0\/24\nCipher = none\nDigest = none\n/);
    }
    // The public key in b's host file is the one that belongs to b's private key (what the meta handshake checks).
    const pub = /-----BEGIN RSA PUBLIC KEY-----[\s\S]+?-----END RSA PUBLIC KEY-----/.exec(files['a/hosts/b'])?.[0];
    const derived = createPublicKey(createPrivateKey(files['b/rsa_key.priv'])).export({ type: 'pkcs1', format: 'pem' });
    expect(pub?.trim()).toBe(derived.toString().trim());
    // Same overlay MTU as VXLAN on a 1500 underlay; never above the 1500 bytes tinc 1.0 carries.
    expect([tincMtu({ mtu: 1500, ipv6Underlay: false }), tincMtu({ mtu: 9000, ipv6Underlay: false })]).toEqual([1450, 1500]);
  });

  it('openvpn: UDP between the underlay addresses, cipher and auth off, data channel in userspace', () => {
    const argv = openvpnArgs(ends.a, ends.b);
    const value = (flag: string) => argv[argv.indexOf(flag) + 1];
    expect(argv[0]).toBe('openvpn');
    expect([value('--dev'), value('--dev-type'), value('--proto')]).toEqual(['vx12abat', 'tun', 'udp']);
    expect([value('--local'), value('--remote'), value('--cipher'), value('--auth'), value('--tun-mtu')]).toEqual([
      '198.18.7.1',
      '198.18.7.2',
      'none',
      'none',
      '1450',
    ]);
    expect(argv).toContain('--disable-dco');
    expect(argv).toContain('--ifconfig-noexec');
    const v6 = openvpnArgs({ ...ends.a, underlayIp: 'fd00:c612:7::1' }, { ...ends.b, underlayIp: 'fd00:c612:7::2' });
    expect(v6[v6.indexOf('--proto') + 1]).toBe('udp6');
  });

  it("wireguard-go: keys that agree under X25519, wg set with the peer's lease, MTU for its 60-byte headers", () => {
    const a = wireguardKeyPair();
    const b = wireguardKeyPair();
    expect(Buffer.from(a.privateKey, 'base64')).toHaveLength(32);
    const ab = diffieHellman({ privateKey: x25519Private(a.privateKey), publicKey: x25519Public(b.publicKey) });
    const ba = diffieHellman({ privateKey: x25519Private(b.privateKey), publicKey: x25519Public(a.publicKey) });
    expect(ab.equals(ba)).toBe(true);
    expect(wgSetArgs(ends.a, ends.b, '/k/a.key', b.publicKey)).toEqual([
      'wg',
      'set',
      'vx12abat',
      'private-key',
      '/k/a.key',
      'listen-port',
      '51820',
      'peer',
      b.publicKey,
      'endpoint',
      '198.18.7.2:51820',
      'allowed-ips',
      '10.244.2.0/24',
    ]);
    expect(wgSetArgs(ends.a, { ...ends.b, underlayIp: 'fd00::2' }, '/k', 'K')).toContain('[fd00::2]:51820');
    expect([wireguardMtu(1500, false), wireguardMtu(1500, true), wireguardMtu(9000, false)]).toEqual([1440, 1420, 8940]);
  });
});

describe.runIf(isRoot)('userspace tunnel set-up', () => {
  let tb: Testbed | undefined;
  afterEach(async () => {
    await tb?.destroy();
    tb = undefined;
  });

  it('names devices within IFNAMSIZ and uses the leases and addresses of the VXLAN modes', async () => {
    tb = await createTestbed({ prefix: 'vxpeertest123' });
    const planned = peerEnds(tb, { deviceLetter: 'w', mtu: () => 1440 });
    expect(planned.a).toMatchObject({
      device: 'vxpeertest123aw',
      subnet: '10.244.1.0/24',
      overlayIp: '10.244.1.0',
      underlayIp: tb.hosts.a.underlayIp,
      mtu: 1440,
    });
    expect(planned.b.device.length).toBeLessThanOrEqual(15);
    expect(planned.b.overlayIp).toBe('10.244.2.0');
  });

  it('reports a daemon that exits before it is ready with its output, and leaves no files behind', async () => {
    tb = await createTestbed();
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith(`vxtun-${tb?.prefix}`));
    let dir = '';
    const failing: PeerTool = {
      name: 'failing',
      deviceLetter: 'f',
      mtu: () => 1450,
      details: async () => 'a daemon that cannot start',
      prepare: (_ends, path) => {
        dir = path;
      },
      command: () => ['sh', '-c', 'echo "cannot open /dev/net/tun"; exit 3'],
      ready: async () => false,
    };
    const err = await setUpPeerTunnel(tb, failing).catch((e: unknown) => e);
    expect(isVxtunError(err) && err.code === 'VXTUN_ERR_BENCH').toBe(true);
    expect(String(err)).toContain('failing on host b exited (3) before it was ready: cannot open /dev/net/tun');
    expect(dir).not.toBe('');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`vxtun-${tb?.prefix}`))).toEqual(before);
  });
});
