/**
 * `npm run demo`: three hosts (network namespaces on one bridged underlay) form a dual-stack Flannel-style overlay with vxtun.
 * The registry runs inside host a, the network config goes in with etcdctl, `vxtun agent` runs on every host,
 * and then ping and 100 MB with a sha256 on both ends cross the tunnel; then two containers per host, attached
 * through the vxtun CNI plugin, reach each other (bench/demo-containers.ts). Everything is removed afterwards,
 * also on failure and on Ctrl-C. Exit code 0 only when the bytes arrived intact and DEL left nothing behind.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestbed, repoRoot, type AnyHostName, type Testbed } from './testbed/index.js';
import { runContainerDemo } from './demo-containers.js';
import type { CniRuntime } from './cni-runtime.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from './agent-cluster.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTools, toolsUsedBy } from './testbed/tools.js';
import { isVxtunError } from '../dataplane/errors.js';

const CONFIG = '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd10:244::/48","Backend":{"Type":"vxlan","VNI":1,"Port":8472}}';
const BYTES = 100 * 1024 * 1024;
const DEADLINE_MS = 150_000;
const HOSTS = ['a', 'b', 'c'] as const;
const TRAFFIC = join(repoRoot(), 'bench', 'testbed', 'traffic');

let stepNo = 0;
const step = (what: string) => console.log(`\n[${++stepNo}] ${what}`);
const info = (what: string) => console.log(`    ${what}`);

interface Demo {
  tb?: Testbed<AnyHostName>;
  cluster?: AgentCluster<AnyHostName>;
  agents: Partial<Record<AnyHostName, RunningAgent>>;
  cni: { rt?: CniRuntime };
}

async function run(d: Demo): Promise<boolean> {
  step('three hosts: network namespaces joined by a bridge (the underlay)');
  const tb = (d.tb = await createTestbed({ hosts: 3 }));
  info(HOSTS.map((h) => `host ${h}: netns ${tb.hosts[h].netns}, ${tb.hosts[h].underlayIPv4}`).join('    '));
  // Ctrl-C: the testbed's own hook (installed first, so it runs first) kills what it started and deletes the
  // namespaces; this one removes our files and then lets the signal end the process.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopped; agents, registry, namespaces and files removed`);
    if (d.cluster) rmSync(d.cluster.dir, { recursive: true, force: true });
    d.cni.rt?.removeNow();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  step('registry: `vxtun registry` inside host a, on its underlay address');
  const cluster = (d.cluster = await startAgentCluster(tb));
  info(`listening on ${cluster.endpoint}`);

  step('network config, written as for Flannel');
  info(`etcdctl put ${cluster.prefix}/config '${CONFIG}'`);
  await cluster.etcdctl(['put', `${cluster.prefix}/config`, CONFIG]);

  step('`vxtun agent` on every host: each takes a subnet lease and starts its forwarder');
  for (const host of HOSTS) {
    const agent = (d.agents[host] = await cluster.startAgent(host));
    info(`host ${host}: subnet ${agent.subnet}, TUN ${tb.prefix}t (${agent.subnet.replace(/\/\d+$/, '')}/32)`);
  }

  step(`leases in the registry (etcdctl get --prefix ${cluster.prefix}/subnets/)`);
  for (const [key, value] of await cluster.leases()) info(`${key}\n      ${value}`);

  const addr = (h: AnyHostName) => d.agents[h]!.subnet.replace(/\/\d+$/, '');
  step('ping across the overlay');
  for (const [from, to] of [
    ['a', 'b'],
    ['b', 'a'],
    ['b', 'c'],
    ['c', 'b'],
    ['c', 'a'],
    ['a', 'c'],
  ] as const) {
    const r = await tb.exec(from, ['ping', '-c', '3', '-i', '0.2', '-W', '2', addr(to)], { timeoutMs: 15_000, allowFail: true });
    const summary = /(\d+) packets transmitted, (\d+) received.*\n.*= ([\d.]+)\/([\d.]+)/.exec(r.stdout);
    info(`${from} -> ${to} (${addr(to)}): ${summary ? `${summary[2]}/${summary[1]} replies, avg ${summary[4]} ms` : 'no answer'}`);
    if (!summary || summary[2] === '0') return false;
  }

  step(`100 MB over TCP from host a to host b (${addr('b')}), sha256 taken on both ends`);
  const started = Date.now();
  const sink = tb.spawn('b', ['node', join(TRAFFIC, 'tcp-sink.mjs'), '0.0.0.0', '5201', '60000']);
  for (let i = 0; i < 100 && !sink.output().includes('listening'); i++) await sleep(50);
  const src = await tb.exec('a', ['node', join(TRAFFIC, 'tcp-source.mjs'), addr('b'), '5201', String(BYTES), '60000'], {
    timeoutMs: 65_000,
  });
  const sinkExit = await Promise.race([sink.exited, sleep(10_000).then(() => 'timeout')]);
  const sent = JSON.parse(src.stdout.trim()) as { bytes: number; sha256: string };
  const gotLine = sink
    .output()
    .split('\n')
    .find((l) => l.startsWith('{'));
  const got = gotLine ? (JSON.parse(gotLine) as { bytes: number; sha256: string }) : null;
  const seconds = (Date.now() - started) / 1000;
  info(`sent by a:     ${sent.bytes} bytes  sha256 ${sent.sha256}`);
  info(`received by b: ${got ? `${got.bytes} bytes  sha256 ${got.sha256}` : `nothing (sink ${String(sinkExit)})`}`);
  const intact = got !== null && got.bytes === sent.bytes && got.sha256 === sent.sha256;
  info(intact ? `intact (${((sent.bytes * 8) / seconds / 1e9).toFixed(2)} Gbit/s including setup)` : 'MISMATCH');

  step(`what an operator sees on host b: vxtun status --tun-name ${tb.prefix}t`);
  const status = await tb.exec(
    'b',
    [process.execPath, join(repoRoot(), 'dist', 'control', 'cli.js'), 'status', '--tun-name', `${tb.prefix}t`],
    { allowFail: true },
  );
  for (const line of (status.stdout || status.stderr).trimEnd().split('\n')) info(line);

  const subnetFiles = Object.fromEntries(HOSTS.map((h) => [h, d.agents[h]!.subnetFile])) as Record<AnyHostName, string>;
  const containers = await runContainerDemo(tb, subnetFiles, d.cni, { step, info });

  step('vxtun counters (logged by each agent as it stops; the leases stay, as with Flannel)');
  for (const host of HOSTS) {
    const s = await d.agents[host]!.stop();
    d.agents[host] = undefined;
    const mb = (n: unknown) => `${(Number(n) / 1e6).toFixed(1)} MB`;
    info(
      `host ${host}: tx ${s.txPackets} packets ${mb(s.txBytes)} in ${s.txDatagrams} datagrams, rx ${s.rxPackets} packets ${mb(s.rxBytes)}, drops ${JSON.stringify(s.drops)}`,
    );
  }
  return intact && containers;
}

async function main(): Promise<number> {
  try {
    requireTools(toolsUsedBy('demo'), 'VXTUN_ERR_TESTBED', 'the demo');
  } catch (err) {
    if (!isVxtunError(err)) throw err;
    console.error(`demo: ${err.code}: ${err.message}; or run \`sudo bash test/ensure-packages.sh demo\``);
    return 1;
  }
  if (process.getuid?.() !== 0) {
    console.error('demo: needs root (network namespaces and TUN devices); run it with sudo');
    return 1;
  }
  const d: Demo = { agents: {}, cni: {} };
  let ok = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`demo took longer than ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
    });
    ok = await Promise.race([run(d), deadline]);
  } catch (err) {
    console.error(`\ndemo failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    step('cleaning up: agents, registry, namespaces, files');
    await Promise.allSettled(Object.values(d.agents).map((a) => a?.stop()));
    await d.cni.rt?.close();
    await d.cluster?.close();
    await d.tb?.destroy();
  }
  console.log(
    ok
      ? '\nOK: the overlay carried 100 MB intact between hosts a and b, and six containers on three hosts, attached through the CNI plugin, reached each other; DEL left nothing behind.'
      : '\nFAILED: see above.',
  );
  return ok ? 0 : 1;
}

process.exitCode = await main();
