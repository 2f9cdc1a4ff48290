/**
 * Runs a synchronous function with the calling thread inside a named network namespace (`ip netns add NAME`),
 * then moves back. Sockets and TUN devices opened inside stay bound to that namespace after the switch back,
 * which lets one process drive both ends of a namespace testbed. Only the calling thread moves, and only while
 * fn runs: fn must not await.
 */
import { closeSync, openSync } from 'node:fs';
import { loadNative } from './native.js';
import { sysError } from './syserror.js';
import { invalid } from './validate.js';

export function withNetns<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === '.' || name === '..') {
    throw invalid(`namespace name must be 1-64 letters, digits, '_', '-', '.', got ${JSON.stringify(name)}`);
  }
  const native = loadNative();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(`/run/netns/${name}`, 'r');
    try {
      const r = native.setNetns(target);
      if (r < 0) throw sysError('VXTUN_ERR_SYSCALL', `entering network namespace ${name}`, r, 'check that it exists (ip netns list)');
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      const back = native.setNetns(home);
      if (back < 0) {
        // biome-ignore lint/correctness/noUnsafeFinally: a thread left in the wrong namespace is worse than losing fn's error
        throw sysError(
          'VXTUN_ERR_SYSCALL',
          'returning to the original network namespace',
          back,
          'the thread is stranded; exit the process',
        );
      }
    }
  } finally {
    closeSync(home);
  }
}
