/**
 * The `vxtun` CNI plugin called exactly as a runtime calls it (bench/cni-runtime.ts), delegating to Debian's real
 * `bridge` and `host-local`: bad input answered with the spec's error JSON and no change; containers on two vxtun
 * hosts reaching each other (IPv4 and IPv6, ping and a sha256-checked transfer); CHECK; the same containers with
 * one host switched to the kernel's VXLAN as Flannel sets it up; DEL undoing ADD, twice, without CNI_NETNS,
 * without subnet.env, without its own record, without host-local's state, after the container's netns is gone.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniRuntime, type Container } from '../../bench/cni-runtime.js';
import { createTestbed, randomVtepMac, setupFlannelVxlan, type Testbed } from '../../bench/testbed/index.js';
import { CLI, isRoot, startStatic, type VxtunProc } from './harness.js';
import { run } from '../../bench/testbed/process.js';

const MB = 1024 * 1024;
type Host = 'a' | 'b';

describe.runIf(isRoot)('vxtun CNI plugin', () => {
  let tb: Testbed;
  let rt: CniRuntime;
  const vx: Partial<Record<Host, VxtunProc>> = {};
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };
  const subnet6 = { a: 'fd10:244:1::/64', b: 'fd10:244:2::/64' };
  const subnetEnv = (h: Host) => join(rt.dir, h, 'subnet.env');
  const stateDir = (h: Host) => join(rt.dir, h, 'state');
  const ipamDir = (h: Host) => join(rt.dir, h, 'ipam');
  let network: string;
  /** The plugin's entry of `vxtun cni config`, with cniVersion and name inserted as libcni does, test paths added. */
  let pluginConf: (h: Host, cniVersion?: string) => Record<string, unknown>;

  const writeEnv = (h: Host) => {
    mkdirSync(join(rt.dir, h), { recursive: true });
    writeFileSync(
      subnetEnv(h),
      [
        `FLANNEL_NETWORK=10.244.0.0/16`,
        `FLANNEL_SUBNET=${subnet[h].replace('.0/', '.1/')}`,
        'FLANNEL_IPV6_NETWORK=fd10:244::/32',
        `FLANNEL_IPV6_SUBNET=${subnet6[h].replace('::/', '::1/')}`,
        'FLANNEL_MTU=1450',
        'FLANNEL_IPMASQ=true',
        '',
      ].join('\n'),
    );
  };
  const links = async (netns: string) =>
    (await run(['ip', 'netns', 'exec', netns, 'ip', '-o', 'link', 'show'])).stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(':')[1].trim().replace(/@.*/, ''))
      .sort();
  const files = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]))
          .sort()
      : [];
  const ipFiles = (h: Host) => files(ipamDir(h)).filter((f) => /\/[0-9a-f.:]+$/.test(f) && !f.includes('last_reserved'));

  beforeAll(async () => {
    tb = await createTestbed();
    rt = await CniRuntime.create(tb.prefix);
    network = `vx-${tb.prefix}`;
    const conflist = JSON.parse((await run(['node', CLI, 'cni', 'config', '--name', network, '--no-portmap'])).stdout) as {
      cniVersion: string;
      name: string;
      plugins: Record<string, unknown>[];
    };
    expect(conflist.plugins.map((p) => p.type)).toEqual(['vxtun']);
    pluginConf = (h, cniVersion = conflist.cniVersion) => ({
      ...conflist.plugins[0],
      cniVersion,
      name: conflist.name,
      subnetFile: subnetEnv(h),
      dataDir: stateDir(h),
      ipam: { dataDir: ipamDir(h) },
    });
  });

  afterAll(async () => {
    await Promise.allSettled([vx.a?.stop(), vx.b?.stop()]);
    await rt?.close();
    await tb?.destroy();
  });

  describe("bad input: the spec's error JSON, and nothing changed", () => {
    let c: Container;
    beforeAll(async () => {
      c = await rt.container('bad');
      writeEnv('a');
    });

    const cases: {
      what: string;
      code: number;
      msg: RegExp;
      prepare?: () => void;
      config?: (base: Record<string, unknown>) => unknown;
      env?: Record<string, string | undefined>;
      command?: 'ADD' | 'CHECK' | 'STATUS';
    }[] = [
      {
        what: 'stdin that is not JSON',
        code: 6,
        msg: /error decoding the network config on stdin/,
        config: () => '{"cniVersion":"1.0.0","name":',
      },
      { what: 'no subnet.env yet', code: 11, msg: /does not exist yet: .*start `vxtun agent`/, prepare: () => rmSync(subnetEnv('a')) },
      {
        what: 'subnet.env with a bad MTU',
        code: 6,
        msg: /"FLANNEL_MTU=fourteen" is not an MTU/,
        prepare: () =>
          writeFileSync(
            subnetEnv('a'),
            'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=fourteen\nFLANNEL_IPMASQ=true\n',
          ),
      },
      {
        what: 'subnet.env without FLANNEL_SUBNET',
        code: 6,
        msg: /is missing FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET/,
        prepare: () => writeFileSync(subnetEnv('a'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'),
      },
      { what: 'an unknown spec version', code: 1, msg: /incompatible CNI versions/, config: (b) => ({ ...b, cniVersion: '9.9.9' }) },
      {
        what: "spec 1.1.0, which Debian's bridge refuses",
        code: 1,
        msg: /incompatible CNI versions/,
        config: (b) => ({ ...b, cniVersion: '1.1.0' }),
      },
      { what: 'no CNI_NETNS', code: 4, msg: /missing: CNI_NETNS/, env: { CNI_NETNS: undefined } },
      {
        what: 'a CNI_NETNS that does not exist',
        code: 4,
        msg: /CNI_NETNS ".*" does not exist/,
        env: { CNI_NETNS: '/run/netns/no-such-netns-here' },
      },
      { what: 'a container ID with a slash', code: 4, msg: /invalid CNI_CONTAINERID/, env: { CNI_CONTAINERID: 'a/b' } },
      { what: 'no network name', code: 7, msg: /missing network name/, config: (b) => ({ ...b, name: undefined }) },
      {
        what: 'delegate.ipam',
        code: 2,
        msg: /"delegate.ipam" = .* is not allowed/,
        config: (b) => ({ ...b, delegate: { ipam: { type: 'dhcp' } } }),
      },
      {
        what: 'CHECK on a 0.3.1 config',
        code: 1,
        msg: /does not allow CHECK/,
        command: 'CHECK',
        config: (b) => ({ ...b, cniVersion: '0.3.1' }),
      },
      { what: 'STATUS (spec 1.1.0)', code: 1, msg: /does not allow STATUS/, command: 'STATUS' },
      {
        what: 'STATUS as a 1.1.0 runtime sends it (no container)',
        code: 1,
        msg: /incompatible CNI versions/,
        command: 'STATUS',
        config: (b) => ({ ...b, cniVersion: '1.1.0' }),
        env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined, CNI_NETNS: undefined },
      },
      // The bridge creates the veth before it runs IPAM: the plugin's DEL after the failed ADD must remove it.
      {
        what: 'an IPAM plugin that is not installed',
        code: 999,
        msg: /bridge \(ADD\): .*no-such-ipam/,
        config: (b) => ({ ...b, ipam: { ...(b.ipam as object), type: 'no-such-ipam' } }),
      },
    ];

    for (const k of cases) {
      it(`${k.what}: code ${k.code}`, async () => {
        writeEnv('a');
        k.prepare?.();
        const before = {
          host: await links(tb.hosts.a.netns),
          container: await links(c.netns),
          state: files(stateDir('a')),
          ipam: files(ipamDir('a')),
        };
        const r = await rt.call({
          command: k.command ?? 'ADD',
          hostNetns: tb.hosts.a.netns,
          container: c,
          config: k.config ? k.config(pluginConf('a')) : pluginConf('a'),
          env: k.env,
        });
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.json).toMatchObject({ code: k.code });
        expect(String(r.json?.msg) + String(r.json?.details ?? '')).toMatch(k.msg);
        expect(typeof r.json?.cniVersion).toBe('string');
        expect({
          host: await links(tb.hosts.a.netns),
          container: await links(c.netns),
          state: files(stateDir('a')),
          ipam: files(ipamDir('a')),
        }).toEqual(before);
        expect(before.container).toEqual(['lo']);
      });
    }

    it("VERSION answers the versions Debian's bridge accepts, in the asked version", async () => {
      const r = await rt.call({ command: 'VERSION', hostNetns: tb.hosts.a.netns, container: { id: 'x' }, config: { cniVersion: '0.4.0' } });
      expect(r.code).toBe(0);
      expect(r.json).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
    });
  });

  describe('containers on the overlay', () => {
    const ctr: Partial<Record<Host, Container>> = {};
    const added: Partial<Record<Host, Record<string, unknown>>> = {};
    const addr = (h: Host, family: 4 | 6) => {
      const ips = added[h]!.ips as { address: string }[];
      return ips.map((i) => i.address.split('/')[0]).find((a) => a.includes(':') === (family === 6))!;
    };

    beforeAll(async () => {
      const config = (self: Host, other: Host) => ({
        publicIp: tb.hosts[self].underlayIp,
        subnet: subnet[self],
        ipv6Subnet: subnet6[self],
        network: '10.244.0.0/16',
        ipv6Network: 'fd10:244::/32',
        vtepMac: mac[self],
        peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnet[other], ipv6Subnet: subnet6[other], vtepMac: mac[other] }],
      });
      vx.a = await startStatic(tb, 'a', config('a', 'b'));
      vx.b = await startStatic(tb, 'b', config('b', 'a'));
      writeEnv('a');
      writeEnv('b');
      ctr.a = await rt.container('ca');
      ctr.b = await rt.container('cb');
    });

    it('ADD attaches a container with spec 1.0.0 on host a and 0.4.0 on host b: address in the node subnet, FLANNEL_MTU', async () => {
      for (const [h, version] of [
        ['a', '1.0.0'],
        ['b', '0.4.0'],
      ] as const) {
        const r = await rt.call({ command: 'ADD', hostNetns: tb.hosts[h].netns, container: ctr[h]!, config: pluginConf(h, version) });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        added[h] = r.json;
        expect(r.json?.cniVersion).toBe(version);
        const ips = r.json?.ips as { address: string; gateway: string; version?: string }[];
        expect(ips.map((i) => i.gateway)).toEqual([subnet[h].replace('.0/24', '.1'), subnet6[h].replace('::/64', '::1')]);
        expect(addr(h, 4).startsWith(subnet[h].replace('.0/24', '.'))).toBe(true);
        expect(addr(h, 6).startsWith(subnet6[h].replace('::/64', '::'))).toBe(true);
        if (version === '0.4.0') expect(ips.map((i) => i.version)).toEqual(['4', '6']);
        const link = (await rt.exec(ctr[h]!, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
        expect(link).toContain(`inet ${addr(h, 4)}/24`);
        expect((await rt.exec(ctr[h]!, ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1450');
        const routes = (await rt.exec(ctr[h]!, ['ip', 'route'])).stdout;
        expect(routes).toContain(`10.244.0.0/16 via ${subnet[h].replace('.0/24', '.1')} dev eth0`);
        expect(routes).toContain(`default via ${subnet[h].replace('.0/24', '.1')} dev eth0`);
        expect(files(stateDir(h))).toEqual([`${ctr[h]!.id}@eth0`]);
        expect(ipFiles(h)).toEqual([`${network}/${addr(h, 4)}`, `${network}/${addr(h, 6)}`].sort());
      }
    });

    it('containers on the two vxtun hosts reach each other: ping over IPv4 and IPv6, 20 MB with the same sha256', async () => {
      for (const [from, to] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const) {
        expect(await rt.ping(ctr[from]!, addr(to, 4))).toBe(3);
        expect(await rt.ping(ctr[from]!, addr(to, 6))).toBe(3);
      }
      const r = await rt.transfer(ctr.a!, ctr.b!, addr('b', 4), 20 * MB);
      expect(r.received).toEqual(r.sent);
    });

    it('CHECK passes with the ADD result as prevResult', async () => {
      for (const h of ['a', 'b'] as const) {
        const version = String(added[h]!.cniVersion);
        const r = await rt.call({
          command: 'CHECK',
          hostNetns: tb.hosts[h].netns,
          container: ctr[h]!,
          config: { ...pluginConf(h, version), prevResult: added[h] },
        });
        expect(r.code, r.stdout + r.stderr).toBe(0);
      }
    });

    it("host b switched to the kernel's VXLAN as Flannel sets it up: its containers and host a's still reach each other", async () => {
      await vx.b!.stop();
      vx.b = undefined;
      await setupFlannelVxlan(tb, 'b', {
        subnet: subnet.b,
        vtepMac: mac.b,
        peers: [{ publicIp: tb.hosts.a.underlayIp, subnet: subnet.a, vtepMac: mac.a }],
      });
      // The kernel host's veth keeps UDP-tunnel segmentation on, so its VXLAN super-packets (one inner TCP packet of
      // up to 64 KB) reach vxtun unsplit; vxtun must hand them on as TCP GSO packets a container's link can carry.
      expect(await rt.ping(ctr.a!, addr('b', 4))).toBe(3);
      expect(await rt.ping(ctr.b!, addr('a', 4))).toBe(3);
      const r = await rt.transfer(ctr.b!, ctr.a!, addr('a', 4), 10 * MB, 5402);
      expect(r.received).toEqual(r.sent);
    });

    it('DEL removes the veth and frees the address (a second ADD gets it again); DEL twice and without CNI_NETNS succeed', async () => {
      const h = 'a';
      const ip = addr(h, 4);
      const del = (env?: Record<string, string | undefined>) =>
        rt.call({ command: 'DEL', hostNetns: tb.hosts[h].netns, container: ctr[h]!, config: pluginConf(h), env });
      const hostVeths = async () => (await links(tb.hosts[h].netns)).filter((l) => l.startsWith('veth'));
      expect(await hostVeths()).toHaveLength(1);
      // ADD again without DEL fails (the interface exists) and leaves the first attachment and its record alone.
      const dup = await rt.call({ command: 'ADD', hostNetns: tb.hosts[h].netns, container: ctr[h]!, config: pluginConf(h) });
      expect([dup.code, dup.json?.code]).toEqual([1, 999]);
      expect(await hostVeths()).toHaveLength(1);
      expect(files(stateDir(h))).toEqual([`${ctr[h]!.id}@eth0`]);
      expect(await rt.ping(ctr[h]!, addr('b', 4), 1)).toBe(1);
      expect((await del()).code).toBe(0);
      expect(await links(ctr[h]!.netns)).toEqual(['lo']);
      expect(await hostVeths()).toEqual([]);
      expect(ipFiles(h)).toEqual([]);
      expect(files(stateDir(h))).toEqual([]);

      const again = await rt.call({
        command: 'ADD',
        hostNetns: tb.hosts[h].netns,
        container: ctr[h]!,
        config: pluginConf(h),
        env: { CNI_ARGS: `IgnoreUnknown=1;IP=${ip}` },
      });
      expect(again.code, again.stdout).toBe(0);
      expect((again.json!.ips as { address: string }[])[0].address).toBe(`${ip}/24`);
      expect((await del()).code).toBe(0);
      const twice = await del();
      expect([twice.code, twice.stdout]).toEqual([0, '']);
      expect((await del({ CNI_NETNS: undefined })).code).toBe(0);
      expect(await hostVeths()).toEqual([]);
      expect(ipFiles(h)).toEqual([]);
    });

    it('DEL works after subnet.env is gone (its own record), and after its record is gone (rebuilt from subnet.env)', async () => {
      rmSync(subnetEnv('b'));
      const b = await rt.call({ command: 'DEL', hostNetns: tb.hosts.b.netns, container: ctr.b!, config: pluginConf('b', '0.4.0') });
      expect(b.code, b.stdout).toBe(0);
      expect(await links(ctr.b!.netns)).toEqual(['lo']);
      expect(ipFiles('b')).toEqual([]);

      const add = await rt.call({ command: 'ADD', hostNetns: tb.hosts.a.netns, container: ctr.a!, config: pluginConf('a') });
      expect(add.code, add.stdout).toBe(0);
      rmSync(join(stateDir('a'), `${ctr.a!.id}@eth0`));
      const a = await rt.call({ command: 'DEL', hostNetns: tb.hosts.a.netns, container: ctr.a!, config: pluginConf('a') });
      expect(a.code, a.stdout).toBe(0);
      expect(await links(ctr.a!.netns)).toEqual(['lo']);
      expect(ipFiles('a')).toEqual([]);
      for (const h of ['a', 'b'] as const) {
        expect((await links(tb.hosts[h].netns)).filter((l) => l.startsWith('veth'))).toEqual([]);
        expect(files(stateDir(h))).toEqual([]);
      }
    });

    it("DEL works after host-local's state is gone, and after the container's network namespace is gone", async () => {
      expect((await rt.call({ command: 'ADD', hostNetns: tb.hosts.a.netns, container: ctr.a!, config: pluginConf('a') })).code).toBe(0);
      rmSync(ipamDir('a'), { recursive: true });
      const a = await rt.call({ command: 'DEL', hostNetns: tb.hosts.a.netns, container: ctr.a!, config: pluginConf('a') });
      expect(a.code, a.stdout).toBe(0);
      expect(await links(ctr.a!.netns)).toEqual(['lo']);

      writeEnv('b');
      expect((await rt.call({ command: 'ADD', hostNetns: tb.hosts.b.netns, container: ctr.b!, config: pluginConf('b') })).code).toBe(0);
      expect(ipFiles('b')).toHaveLength(2);
      await rt.removeContainer(ctr.b!);
      const b = await rt.call({ command: 'DEL', hostNetns: tb.hosts.b.netns, container: ctr.b!, config: pluginConf('b') });
      expect(b.code, b.stdout).toBe(0);
      expect(ipFiles('b')).toEqual([]);
      for (const h of ['a', 'b'] as const) {
        expect((await links(tb.hosts[h].netns)).filter((l) => l.startsWith('veth'))).toEqual([]);
        expect(files(stateDir(h))).toEqual([]);
      }
    });
  });
});
