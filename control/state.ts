/**
 * Host state that must survive restarts: the VTEP MAC. Peers (and Flannel's leases) carry our MAC, so a new
 * random MAC after a reboot would blackhole traffic until every peer relearned it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { VxtunError } from '../dataplane/errors.js';
import { formatMac, randomVtepMac } from '../dataplane/packet/ethernet.js';

export const DEFAULT_STATE_DIR = '/var/lib/vxtun';

/** Returns the MAC stored under stateDir for this device, creating (and fsyncing) one on first use. */
export function persistentVtepMac(stateDir: string, device: string): { mac: string; created: boolean } {
  const file = join(stateDir, `${device}.vtep-mac`);
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(text)) return { mac: text, created: false };
    throw new VxtunError('VXTUN_ERR_STATE_DIR', `${file} holds "${text}", not a MAC; delete it to get a new one`);
  } catch (err) {
    if (err instanceof VxtunError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new VxtunError('VXTUN_ERR_STATE_DIR', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const mac = formatMac(randomVtepMac());
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${mac}\n`, { mode: 0o644 });
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    throw new VxtunError(
      'VXTUN_ERR_STATE_DIR',
      `cannot write ${file}: ${(err as Error).message}; pass --state-dir to a writable directory`,
      { cause: err },
    );
  }
  return { mac, created: true };
}
