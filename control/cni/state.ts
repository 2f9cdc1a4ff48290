/**
 * The delegate config each ADD used, kept under dataDir so DEL (and CHECK) hand the delegate exactly what ADD
 * did, even after subnet.env changed or disappeared. One file per attachment, `<containerID>@<ifname>`
 * (a container ID never holds `@`), written 0600 in a 0700 directory, fsynced and renamed into place.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CniCode, CniError } from './errors.js';

export function stateFile(dataDir: string, containerId: string, ifName: string): string {
  return join(dataDir, `${containerId}@${ifName}`);
}

export function saveState(file: string, config: Record<string, unknown>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(config));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CniError(
      CniCode.IO_FAILURE,
      `cannot save the delegate config to ${file}: ${(err as Error).message}; ` +
        'the plugin needs a writable "dataDir" (default /var/lib/cni/vxtun)',
    );
  }
}

export type LoadedState = { kind: 'found'; config: Record<string, unknown> } | { kind: 'missing' } | { kind: 'corrupt'; text: string };

export function loadState(file: string): LoadedState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new CniError(CniCode.IO_FAILURE, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const config = JSON.parse(text) as unknown;
    if (
      config !== null &&
      typeof config === 'object' &&
      !Array.isArray(config) &&
      typeof (config as { type?: unknown }).type === 'string'
    ) {
      return { kind: 'found', config: config as Record<string, unknown> };
    }
  } catch {
    // fall through
  }
  return { kind: 'corrupt', text };
}

export function removeState(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch (err) {
    throw new CniError(CniCode.IO_FAILURE, `cannot remove ${file}: ${(err as Error).message}`);
  }
}
