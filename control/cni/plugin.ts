/**
 * The `vxtun` CNI plugin: one invocation, dispatched on CNI_COMMAND the way the reference library's skel does
 * (required environment, then the config's JSON, name, container ID, interface name, version), then ADD / DEL /
 * CHECK / VERSION. It plays Flannel's CNI plugin: subnet.env in, a `bridge` + `host-local` config out, kept under
 * dataDir so DEL undoes what ADD did.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { delegateBridge, linkExists, removeEmptyBridge } from './bridge.js';
import { runDelegate } from './delegate.js';
import { CniCode, CniError } from './errors.js';
import { readFlannelEnv } from './flannel-env.js';
import { buildDelegateConfig, dataDirOf, parseNetConf, subnetFileOf, type NetConf } from './netconf.js';
import { loadState, removeState, saveState, stateFile } from './state.js';

/** Debian's bridge and host-local (containernetworking-plugins 1.1.1) accept exactly these; 1.1.0 they refuse. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
const LATEST = '1.0.0';

export const ABOUT = "CNI plugin vxtun: attaches containers to the vxtun overlay (Flannel's role: subnet.env -> bridge + host-local)";

export interface PluginRun {
  /** The result or the error JSON (empty for a successful DEL or CHECK). */
  readonly stdout: string;
  readonly exitCode: number;
}

interface Invocation {
  readonly command: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly cniPath: string;
  readonly env: NodeJS.ProcessEnv;
}

const REQUIRED_ENV: Readonly<Record<string, readonly string[]>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
  VERSION: [],
};

export async function runPlugin(env: NodeJS.ProcessEnv, readStdin: () => Promise<Buffer>, log: Logger): Promise<PluginRun> {
  let version: string = LATEST;
  try {
    const command = env.CNI_COMMAND ?? '';
    if (command === '') {
      process.stderr.write(`${ABOUT}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`);
      return { stdout: '', exitCode: 0 };
    }
    const required = REQUIRED_ENV[command];
    if (required === undefined) {
      throw new CniError(CniCode.INVALID_ENV, `unknown CNI_COMMAND "${command}": this plugin serves ADD, DEL, CHECK and VERSION`);
    }
    const missing = required.filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new CniError(
        CniCode.INVALID_ENV,
        `required environment variables missing: ${missing.join(', ')}; a CNI runtime sets them (see the CNI spec, section "Parameters")`,
      );
    }
    if (command === 'VERSION') return versionResult(await readStdin().catch(() => Buffer.alloc(0)));

    const stdin = await readStdin().catch((err: Error) => {
      throw new CniError(CniCode.IO_FAILURE, `error reading the network config from stdin: ${err.message}`);
    });
    const raw = decodeConfig(stdin);
    const inv: Invocation = {
      command,
      env,
      containerId: env.CNI_CONTAINERID ?? '',
      netns: env.CNI_NETNS ?? '',
      ifName: env.CNI_IFNAME ?? '',
      cniPath: env.CNI_PATH ?? '',
    };
    validateIdentity(raw, inv);
    version = checkVersion(raw);
    if (command === 'STATUS' || command === 'GC') {
      throw new CniError(
        CniCode.INCOMPATIBLE_VERSION,
        `config version "${version}" does not allow ${command} (it came with spec 1.1.0, which this plugin's delegates do not support)`,
      );
    }
    if (command === 'CHECK' && ['0.1.0', '0.2.0', '0.3.0', '0.3.1'].includes(version)) {
      throw new CniError(CniCode.INCOMPATIBLE_VERSION, `config version "${version}" does not allow CHECK (it came with spec 0.4.0)`);
    }
    const conf = parseNetConf(raw);
    if (command === 'ADD') return { stdout: await add(inv, conf, log), exitCode: 0 };
    if (command === 'DEL') await del(inv, conf, log);
    else await check(inv, conf);
    return { stdout: '', exitCode: 0 };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CniCode.INTERNAL, (err as Error).message ?? String(err));
    log.debug({ code: e.code, msg: e.message }, 'CNI error');
    return { stdout: `${JSON.stringify(e.toJSON(version))}\n`, exitCode: 1 };
  }
}

function versionResult(stdin: Buffer): PluginRun {
  let asked: unknown;
  try {
    asked = (JSON.parse(stdin.toString('utf8')) as { cniVersion?: unknown }).cniVersion;
  } catch {
    asked = undefined;
  }
  const cniVersion = typeof asked === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(asked) ? asked : LATEST;
  return { stdout: `${JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS })}\n`, exitCode: 0 };
}

function decodeConfig(stdin: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(stdin.toString('utf8'));
  } catch (err) {
    throw new CniError(
      CniCode.DECODE_FAILURE,
      `error decoding the network config on stdin: ${(err as Error).message}; the runtime passes the network's JSON config there`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CniError(CniCode.DECODE_FAILURE, 'error decoding the network config on stdin: it is not a JSON object');
  }
  return value as Record<string, unknown>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function validateIdentity(raw: Record<string, unknown>, inv: Invocation): void {
  if (typeof raw.name !== 'string' || raw.name === '') {
    throw new CniError(CniCode.INVALID_CONFIG, 'missing network name: the config needs "name" (the runtime inserts it from the .conflist)');
  }
  if (!NAME.test(raw.name)) {
    throw new CniError(
      CniCode.INVALID_CONFIG,
      `invalid network name "${raw.name}": use letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  }
  // STATUS and GC concern the network, not one attachment: no container ID or interface to check.
  if (inv.command === 'STATUS' || inv.command === 'GC') return;
  if (!NAME.test(inv.containerId)) {
    throw new CniError(
      CniCode.INVALID_ENV,
      `invalid CNI_CONTAINERID "${inv.containerId}": letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  }
  if (inv.ifName.length > 15 || /[/:\s]/.test(inv.ifName) || inv.ifName === '.' || inv.ifName === '..') {
    throw new CniError(CniCode.INVALID_ENV, `invalid CNI_IFNAME "${inv.ifName}": at most 15 characters, without "/", ":" or spaces`);
  }
}

function checkVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion ?? '0.1.0';
  if (typeof v !== 'string' || !/^\d+\.\d+\.\d+$/.test(v)) {
    throw new CniError(CniCode.DECODE_FAILURE, `"cniVersion" ${JSON.stringify(v)} is not a version like "1.0.0"`);
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(
      CniCode.INCOMPATIBLE_VERSION,
      'incompatible CNI versions',
      `config is "${v}", plugin supports [${SUPPORTED_VERSIONS.map((s) => `"${s}"`).join(' ')}]; set "cniVersion" to one of them (1.0.0 is the newest Debian's bridge accepts)`,
    );
  }
  return v;
}

async function add(inv: Invocation, conf: NetConf, log: Logger): Promise<string> {
  if (!existsSync(inv.netns)) {
    throw new CniError(
      CniCode.INVALID_ENV,
      `CNI_NETNS "${inv.netns}" does not exist: pass the path of the container's network namespace (e.g. /run/netns/<name> or /proc/<pid>/ns/net)`,
    );
  }
  const env = readFlannelEnv(subnetFileOf(conf));
  const delegate = buildDelegateConfig(conf, env);
  const file = stateFile(dataDirOf(conf), inv.containerId, inv.ifName);
  const earlier = loadState(file).kind !== 'missing';
  // A first ADD saves before running the delegate, so a DEL after a crash still finds what to undo; an ADD
  // repeated without DEL leaves the earlier attachment's record alone unless the delegate succeeds.
  if (!earlier) saveState(file, delegate);
  const bridge = delegateBridge(delegate);
  const newBridge = bridge !== undefined && !linkExists(bridge);
  let out: string;
  try {
    out = await runDelegate('ADD', delegate, inv.cniPath, inv.env);
  } catch (err) {
    if (!earlier) {
      await runDelegate('DEL', delegate, inv.cniPath, inv.env).catch((e: Error) =>
        log.warn({ err: e.message }, 'undoing the failed ADD failed'),
      );
      if (newBridge && linkExists(bridge)) removeEmptyBridge(bridge, log);
      removeState(file);
    }
    throw err;
  }
  if (earlier) saveState(file, delegate);
  try {
    JSON.parse(out);
  } catch {
    throw new CniError(CniCode.INTERNAL, `${String(delegate.type)} (ADD) printed no JSON result: ${out.slice(0, 500)}`);
  }
  log.info({ containerId: inv.containerId, ifName: inv.ifName, subnets: env.subnets.map((s) => s.cidr) }, 'attached');
  return out.endsWith('\n') ? out : `${out}\n`;
}

async function del(inv: Invocation, conf: NetConf, log: Logger): Promise<void> {
  const file = stateFile(dataDirOf(conf), inv.containerId, inv.ifName);
  const saved = loadState(file);
  let delegate: Record<string, unknown>;
  if (saved.kind === 'found') {
    delegate = saved.config;
  } else {
    if (saved.kind === 'corrupt')
      log.warn({ file, content: saved.text.slice(0, 2000) }, 'unreadable delegate config; rebuilding it from subnet.env');
    // Without the record (lost, or ADD never got that far) the delegate config is rebuilt from subnet.env, so
    // the address still goes back to the pool; without subnet.env either there is nothing left to find.
    let env;
    try {
      env = readFlannelEnv(subnetFileOf(conf));
    } catch (err) {
      log.info({ file, reason: (err as Error).message }, 'DEL: no delegate config and no usable subnet.env; nothing to delete');
      removeState(file);
      return;
    }
    delegate = buildDelegateConfig(conf, env);
  }
  if (conf.prevResult !== undefined) delegate = { ...delegate, prevResult: conf.prevResult };
  await runDelegate('DEL', delegate, inv.cniPath, inv.env);
  removeState(file);
  log.info({ containerId: inv.containerId, ifName: inv.ifName }, 'detached');
}

async function check(inv: Invocation, conf: NetConf): Promise<void> {
  const file = stateFile(dataDirOf(conf), inv.containerId, inv.ifName);
  const saved = loadState(file);
  if (saved.kind !== 'found') {
    throw new CniError(
      CniCode.UNKNOWN_CONTAINER,
      `no attachment of container ${inv.containerId} (${inv.ifName}) is recorded in ${file}: ADD it first`,
    );
  }
  await runDelegate('CHECK', { ...saved.config, ...(conf.prevResult ? { prevResult: conf.prevResult } : {}) }, inv.cniPath, inv.env);
}
