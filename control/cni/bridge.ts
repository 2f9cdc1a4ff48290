/**
 * Undoing the one thing a `bridge` delegate's DEL leaves behind after a failed first ADD: the bridge device it
 * created. Left there without ports, the bridge's MAC falls back to 00:00:00:00:00:00 (its address was never set),
 * and Debian's bridge plugin (1.1.1) then fails every later ADD with "could not set bridge's mac: invalid argument".
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import type { Logger } from 'pino';

const IP_COMMANDS = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

/** The bridge a delegate config would create: `bridge` (default `cni0`) for a bridge delegate, else undefined. */
export function delegateBridge(delegate: Record<string, unknown>): string | undefined {
  if (delegate.type !== 'bridge') return undefined;
  return typeof delegate.bridge === 'string' && delegate.bridge !== '' ? delegate.bridge : 'cni0';
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Deletes the bridge if it has no ports left; logs instead of throwing (the ADD's own error is what matters). */
export function removeEmptyBridge(name: string, log: Logger): void {
  try {
    if (readdirSync(`/sys/class/net/${name}/brif`).length > 0) return;
    const ip = IP_COMMANDS.find((p) => existsSync(p)) ?? 'ip';
    execFileSync(ip, ['link', 'del', name], { stdio: 'ignore', timeout: 10_000 });
  } catch (err) {
    log.warn(
      { bridge: name, err: (err as Error).message },
      'could not remove the bridge the failed ADD created; delete it by hand (ip link del) before the next ADD',
    );
  }
}
