import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { VxtunError } from '../../../dataplane/errors.js';

/**
 * One registry per data directory: two writers would interleave their logs. Like etcd on Linux, the lock is
 * an open-file-description lock (fcntl F_OFD_SETLK, through fs-native-extensions) on `<dataDir>/LOCK`: the
 * kernel drops it when the holder's file is closed, so it dies with the process however that ends (kill -9
 * included, before the process is even reaped), and a stale file never blocks a start. The file's content
 * (the holder's pid) only serves the error message.
 */
const require = createRequire(import.meta.url);
const { tryLock } = require('fs-native-extensions') as { tryLock(fd: number, opts?: { shared?: boolean }): boolean };

export interface DataDirLock {
  release(): Promise<void>;
  /** Set when the directory is on a read-only file system: the error writing met (the lock is then shared). */
  readOnly: Error | undefined;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(path.resolve(dataDir), 'LOCK');
  let readOnly: Error | undefined;
  const fh = await fs.open(file, 'a+', 0o600).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EROFS') throw err;
    readOnly = err;
    return fs.open(file, 'r');
  });
  try {
    // On a read-only file system a read lock: it still conflicts with a writing registry's lock.
    if (!tryLock(fh.fd, { shared: readOnly !== undefined })) {
      const holder = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
      throw new VxtunError(
        'VXTUN_ERR_REGISTRY_DATA',
        `data directory ${dataDir} is in use by another registry${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''}; stop it or pick another --data-dir`,
      );
    }
    if (!readOnly) {
      await fh.truncate(0);
      await fh.write(`${process.pid}\n`, 0);
    }
  } catch (err) {
    await fh.close();
    throw err;
  }
  // Closing the file releases the lock; the file itself stays (removing it could race a starting registry).
  return {
    release: async () => {
      await fh.close();
    },
    readOnly,
  };
}
