/**
 * The container part of `npm run demo`: on every host, two containers (network namespaces) attached to the overlay
 * through the `vxtun` CNI plugin by the CNI protocol (bench/cni-runtime.ts); every container pings every container
 * on the other hosts; a sha256-checked transfer container to container; then DEL of each, and a check that
 * nothing is left behind (veths, addresses held by host-local, the plugin's records, container interfaces).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CniRuntime, type Container } from './cni-runtime.js';
import { run } from './testbed/process.js';
import type { AnyHostName, Testbed } from './testbed/index.js';
import { repoRoot } from './testbed/vxtun.js';

export interface DemoOutput {
  step(what: string): void;
  info(what: string): void;
}

/** A container and its addresses: IPv4, and IPv6 when the network is dual-stack (subnet.env has IPv6 lines). */
interface Attached {
  readonly host: AnyHostName;
  readonly name: string;
  readonly container: Container;
  readonly ip: string;
  readonly ip6?: string;
}

const BYTES = 20 * 1024 * 1024;

/** Runs the container steps; `holder.rt` is set at once so the caller can clean up on failure or a signal. */
export async function runContainerDemo<H extends AnyHostName>(
  tb: Testbed<H>,
  subnetFiles: Readonly<Record<H, string>>,
  holder: { rt?: CniRuntime },
  out: DemoOutput,
): Promise<boolean> {
  const hosts = Object.keys(subnetFiles) as H[];
  out.step('the CNI plugin: `vxtun cni install --bin-dir <dir>`, and the network config `vxtun cni config` prints');
  const rt = (holder.rt = await CniRuntime.create(tb.prefix));
  const cli = join(repoRoot(), 'dist', 'control', 'cli.js');
  const conflist = JSON.parse((await run(['node', cli, 'cni', 'config', '--name', 'vxtun', '--no-portmap'])).stdout) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  out.info(`installed ${rt.plugin}; CNI_PATH=${rt.binDir}:/usr/lib/cni (Debian's bridge and host-local)`);
  out.info(JSON.stringify(conflist));
  // As libcni does: the list's name and cniVersion go into the plugin's config. Each host's agent writes its own
  // subnet.env; the plugin's records and host-local's addresses go under the demo's directory.
  const config = (h: H) => ({
    ...conflist.plugins[0],
    cniVersion: conflist.cniVersion,
    name: conflist.name,
    subnetFile: subnetFiles[h],
    dataDir: join(rt.dir, h, 'vxtun'),
    ipam: { dataDir: join(rt.dir, h, 'ipam') },
  });

  out.step('two containers on every host, attached by CNI ADD (the plugin reads subnet.env and runs bridge + host-local)');
  const attached: Attached[] = [];
  for (const host of hosts) {
    for (const i of [1, 2]) {
      const name = `${host}${i}`;
      const container = await rt.container(`-${name}`, `ctr-${name}`);
      const r = await rt.call({ command: 'ADD', hostNetns: tb.hosts[host].netns, container, config: config(host) });
      const addresses = ((r.json?.ips as { address: string }[] | undefined) ?? []).map((i) => i.address);
      const ip = addresses.find((a) => !a.includes(':'));
      const ip6 = addresses.find((a) => a.includes(':'));
      if (r.code !== 0 || ip === undefined) {
        out.info(`container ${name}: ADD failed: ${r.stdout.trim()} ${r.stderr.trim()}`);
        return false;
      }
      const mtu = (await rt.exec(container, ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim();
      out.info(`container ${name} on host ${host}: netns ${container.netns}, eth0 ${[ip, ip6].filter(Boolean).join(' ')}, MTU ${mtu}`);
      attached.push({ host, name, container, ip: ip.split('/')[0], ip6: ip6?.split('/')[0] });
    }
  }
  for (const host of hosts) out.info(await footprint(tb, host, rt.dir));

  out.step(`every container pings every container on the other hosts (${attached.length} containers; IPv4, then IPv6)`);
  const families = attached.every((a) => a.ip6 !== undefined) ? ([4, 6] as const) : ([4] as const);
  const rows = await Promise.all(
    attached.flatMap((from) =>
      families.map(async (family) => {
        const results: string[] = [];
        for (const to of attached.filter((t) => t.host !== from.host)) {
          results.push(`${to.name} ${await rt.ping(from.container, family === 4 ? to.ip : to.ip6!, 2)}/2`);
        }
        return { from, family, results };
      }),
    ),
  );
  let allAnswered = true;
  for (const { from, family, results } of rows) {
    out.info(`${from.name} -> ${results.join(', ')}${family === 6 ? ' (IPv6)' : ''}`);
    allAnswered &&= results.every((r) => r.endsWith(' 2/2') || r.endsWith(' 1/2'));
  }
  if (!allAnswered) return false;

  const [src, dst] = [attached[0], attached[attached.length - 1]];
  out.step(`${BYTES / 1024 / 1024} MB over TCP from container ${src.name} to container ${dst.name} (${dst.ip}), sha256 taken on both ends`);
  const t = await rt.transfer(src.container, dst.container, dst.ip, BYTES);
  out.info(`sent by ${src.name}:     ${t.sent.bytes} bytes  sha256 ${t.sent.sha256}`);
  out.info(`received by ${dst.name}: ${t.received ? `${t.received.bytes} bytes  sha256 ${t.received.sha256}` : 'nothing'}`);
  const intact = t.received !== undefined && t.received.bytes === t.sent.bytes && t.received.sha256 === t.sent.sha256;
  out.info(intact ? 'intact' : 'MISMATCH');

  out.step('CNI DEL for every container, then what is left');
  for (const a of attached) {
    const r = await rt.call({
      command: 'DEL',
      hostNetns: tb.hosts[a.host as H].netns,
      container: a.container,
      config: config(a.host as H),
    });
    if (r.code !== 0) {
      out.info(`container ${a.name}: DEL failed: ${r.stdout.trim()}`);
      return false;
    }
  }
  let clean = true;
  for (const host of hosts) {
    const line = await footprint(tb, host, rt.dir);
    out.info(`${line} (cni0 stays, as with Flannel)`);
    clean &&= line.endsWith(': 0 container veths, 0 addresses held by host-local, 0 plugin records, 0 masquerade chains');
  }
  for (const a of attached) {
    const left = (await rt.exec(a.container, ['ip', '-o', 'link', 'show'])).stdout
      .split('\n')
      .filter((l) => l !== '' && !/^\d+: lo:/.test(l));
    if (left.length > 0) {
      out.info(`container ${a.name} still has ${left.join('; ')}`);
      clean = false;
    }
  }
  out.info(clean ? 'nothing left behind' : 'LEFTOVERS');
  return intact && clean;
}

/**
 * What the containers of one host hold there: veths on its bridge, host-local's addresses, the plugin's records,
 * and the bridge's per-container masquerade chains (the agent writes FLANNEL_IPMASQ=false, so the bridge masquerades).
 */
async function footprint<H extends AnyHostName>(tb: Testbed<H>, host: H, dir: string): Promise<string> {
  const links = (await tb.exec(host, ['ip', '-o', 'link', 'show'])).stdout;
  const veths = (links.match(/^\d+: veth/gm) ?? []).length;
  const held = files(join(dir, host, 'ipam')).filter((f) => /^[0-9a-f.:]+$/.test(f)).length;
  const records = files(join(dir, host, 'vxtun')).length;
  const chains = ((await tb.exec(host, ['iptables', '-t', 'nat', '-S'])).stdout.match(/^-N CNI-/gm) ?? []).length;
  return `host ${host}: ${veths} container veths, ${held} addresses held by host-local, ${records} plugin records, ${chains} masquerade chains`;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [e.name]));
}
