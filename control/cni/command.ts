/** `vxtun cni install` and `vxtun cni config`: put the plugin where a runtime finds it, and print a config for it. */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { VxtunError } from '../../dataplane/errors.js';
import { addEnvVars } from '../cli-options.js';
import { commandLogger } from '../log.js';
import { DEFAULT_SUBNET_FILE } from './flannel-env.js';
import { DEFAULT_DATA_DIR } from './netconf.js';
import { SUPPORTED_VERSIONS } from './plugin.js';

export const DEFAULT_BIN_DIR = '/opt/cni/bin';
export const PLUGIN_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

/** A /bin/sh launcher naming this node binary and the plugin entry by absolute path: runtimes run plugins with their own PATH. */
export function launcherScript(node = process.execPath, entry = PLUGIN_ENTRY): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# The vxtun CNI plugin, installed by \`vxtun cni install\`.\nexec ${q(node)} ${q(entry)} "$@"\n`;
}

/** Writes `<binDir>/vxtun` atomically (0755); returns its path. */
export function installPlugin(binDir: string): string {
  const target = join(binDir, 'vxtun');
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    mkdirSync(binDir, { recursive: true, mode: 0o755 });
    writeFileSync(tmp, launcherScript(), { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new VxtunError(
      code === 'EACCES' || code === 'EPERM' ? 'VXTUN_ERR_PERMISSION' : 'VXTUN_ERR_CNI_INSTALL',
      `cannot write ${target}: ${(err as Error).message}; run as root or pass --bin-dir to a writable directory`,
      { cause: err },
    );
  }
  return target;
}

export interface ConflistOptions {
  name: string;
  cniVersion: string;
  subnetFile: string;
  portmap: boolean;
}

/** A `.conflist` for /etc/cni/net.d: the vxtun plugin (hairpin on, as Flannel's stock config) and optionally portmap. */
export function conflist(o: ConflistOptions): Record<string, unknown> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) {
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `--name "${o.name}": a CNI network name is letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  }
  const plugin: Record<string, unknown> = { type: 'vxtun', delegate: { hairpinMode: true } };
  if (o.subnetFile !== DEFAULT_SUBNET_FILE) plugin.subnetFile = o.subnetFile;
  const plugins: Record<string, unknown>[] = [plugin];
  if (o.portmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  return { cniVersion: o.cniVersion, name: o.name, plugins };
}

export function registerCniCommand(program: Command): void {
  const cni = program.command('cni').description('The CNI plugin (type "vxtun"): attach containers to the overlay with any CNI runtime');
  addEnvVars(cni.command('install'), () => 'VXTUN_CNI_')
    .description(
      `Install the plugin: writes <bin-dir>/vxtun, a launcher runtimes execute for "type": "vxtun". It delegates to \`bridge\` and \`host-local\` (Debian's containernetworking-plugins), which must be in the runtime's CNI bin dirs too.`,
    )
    .option('--bin-dir <dir>', 'the CNI bin dir the runtime searches (containerd: bin_dir; podman: cni_plugin_dirs)', DEFAULT_BIN_DIR)
    .addHelpText(
      'after',
      `
Examples:
  sudo vxtun cni install                          writes ${DEFAULT_BIN_DIR}/vxtun
  sudo vxtun cni install --bin-dir /usr/lib/cni   beside Debian's bridge and host-local`,
    )
    .action((flags: { binDir: string }, cmd: Command) => {
      const log = commandLogger(cmd);
      const target = installPlugin(flags.binDir);
      log.info({ path: target }, 'CNI plugin installed');
      const missing = ['bridge', 'host-local'].filter((p) => !existsSync(join(flags.binDir, p)));
      if (missing.length > 0) {
        log.warn(
          { binDir: flags.binDir, missing },
          "the delegate plugins are not in this bin dir: link them from /usr/lib/cni (apt install containernetworking-plugins) or add /usr/lib/cni to the runtime's CNI bin dirs",
        );
      }
    });
  addEnvVars(cni.command('config'), () => 'VXTUN_CNI_')
    .description(
      `Print a ready .conflist for /etc/cni/net.d, e.g. \`vxtun cni config > /etc/cni/net.d/10-vxtun.conflist\`. The plugin reads subnet.env (written by \`vxtun agent\`) and keeps its state in ${DEFAULT_DATA_DIR}.`,
    )
    .option('--name <name>', 'CNI network name', 'vxtun')
    .addOption(
      new Option('--cni-version <version>', 'spec version of the config')
        .choices([...SUPPORTED_VERSIONS].filter((v) => v >= '0.3.1'))
        .default('1.0.0'),
    )
    .option('--subnet-file <path>', 'the subnet.env the agent writes (its --subnet-file)', DEFAULT_SUBNET_FILE)
    .option('--no-portmap', 'leave out the portmap plugin (port publishing)')
    .addHelpText(
      'after',
      `
Examples:
  vxtun cni config > /etc/cni/net.d/10-vxtun.conflist
  vxtun cni config --name pods --cni-version 0.4.0 --no-portmap`,
    )
    .action((flags: ConflistOptions) => {
      process.stdout.write(`${JSON.stringify(conflist(flags), null, 2)}\n`);
    });
}
