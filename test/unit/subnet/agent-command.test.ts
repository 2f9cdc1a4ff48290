/** `vxtun agent` flags: flanneld's names, durations for the lease TTL, and refusals a user sees. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseDuration, registerAgentCommand } from '../../../control/agent-command.js';

function program() {
  const out: string[] = [];
  const p = new Command().exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) });
  registerAgentCommand(p);
  p.commands.forEach((c) => c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) }));
  return { p, out };
}

describe('vxtun agent command', () => {
  it('reads lease TTLs the way operators write them', () => {
    expect([parseDuration('24h'), parseDuration('90m'), parseDuration('60s'), parseDuration('45')]).toEqual([86400, 5400, 60, 45]);
    for (const bad of ['0', '-5s', '1d', 'soon', '']) expect(() => parseDuration(bad)).toThrow(/duration such as 24h/);
  });

  it("offers flanneld's etcd and subnet flags", async () => {
    const { p, out } = program();
    await expect(p.parseAsync(['node', 'vxtun', 'agent', '--help'])).rejects.toThrow();
    const help = out.join('');
    for (const flag of [
      '--etcd-endpoints',
      '--etcd-prefix',
      '--public-ip',
      '--subnet-file',
      '--subnet-lease-ttl',
      '--state-dir',
      '--workers',
      '--wait-timeout',
      '--subnet-lease-renew-margin',
      '--healthz-ip',
      '--healthz-port',
      '--iface',
      '--iface-regex',
      '--iface-can-reach',
      '--ip-masq',
      '--public-ipv6',
    ])
      expect(help).toContain(flag);
    expect(help).toContain('FLANNELD_<FLAG>');
    expect(help).toContain('/coreos.com/network');
    expect(help).toContain('/run/flannel/subnet.env');
  });

  it('refuses a bad --public-ip, a bad TTL, a lease margin beyond the TTL and --kube-subnet-mgr, before touching anything', async () => {
    const a = program();
    await expect(a.p.parseAsync(['node', 'vxtun', 'agent', '--public-ip', 'eth0'])).rejects.toMatchObject({
      code: 'VXTUN_ERR_CONFIG',
      message: expect.stringMatching(/--public-ip eth0 is not an IPv4 address/),
    });
    await expect(program().p.parseAsync(['node', 'vxtun', 'agent', '--kube-subnet-mgr'])).rejects.toThrow(
      /--kube-subnet-mgr is not supported: vxtun takes subnet leases from etcd/,
    );
    await expect(
      program().p.parseAsync(['node', 'vxtun', 'agent', '--subnet-lease-ttl', '1h', '--subnet-lease-renew-margin', '60']),
    ).rejects.toThrow(/--subnet-lease-renew-margin \(60 min\) must be shorter than the lease TTL \(3600 s\)/);
    const b = program();
    await expect(
      b.p.parseAsync(['node', 'vxtun', 'agent', '--public-ip', '198.18.0.1', '--subnet-lease-ttl', 'forever']),
    ).rejects.toThrow();
    expect(b.out.join('')).toMatch(/expected a duration such as 24h, 90m or 60s, got "forever"/);
  });

  it('reads every flag from FLANNELD_<FLAG> as flanneld does; the command line wins', async () => {
    const { p } = program();
    const agent = p.commands.find((c) => c.name() === 'agent')!;
    agent.action(() => undefined);
    const env = {
      FLANNELD_ETCD_ENDPOINTS: 'http://198.18.0.9:2379',
      FLANNELD_PUBLIC_IP: '198.18.0.5',
      FLANNELD_HEALTHZ_PORT: '8471',
      FLANNELD_ETCD_PREFIX: '/env/network',
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await p.parseAsync(['node', 'vxtun', 'agent', '--etcd-prefix', '/flag/network']);
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    expect(agent.opts()).toMatchObject({
      etcdEndpoints: 'http://198.18.0.9:2379',
      publicIp: '198.18.0.5',
      healthzPort: 8471,
      etcdPrefix: '/flag/network',
    });
  });
});
