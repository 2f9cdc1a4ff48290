import fs from 'node:fs/promises';
import path from 'node:path';
import { VxtunError } from '../../../dataplane/errors.js';

/**
 * One registry per data directory: two writers would interleave their logs. The lock file holds the owner's
 * pid; a lock left by a process that no longer runs (kill -9, crash) is taken over.
 */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(path.resolve(dataDir), 'LOCK');
  if (held.has(file)) throw busy(dataDir, process.pid);
  try {
    const pid = Number((await fs.readFile(file, 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw busy(dataDir, pid);
  } catch (err) {
    if (err instanceof VxtunError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.writeFile(file, `${process.pid}\n`);
  held.add(file);
  return async () => {
    held.delete(file);
    await fs.rm(file, { force: true });
  };
}

const busy = (dir: string, pid: number) => new VxtunError('VXTUN_ERR_REGISTRY_DATA',
  `data directory ${dir} is in use by another registry (pid ${pid}); stop it or pick another --data-dir (delete ${path.join(dir, 'LOCK')} only if that process is not a registry)`);
