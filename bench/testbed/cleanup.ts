import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { killGroup } from './process.js';

/**
 * What a testbed must undo if the process ends before destroy() ran: the process groups it started, the
 * namespaces it created and the files it made outside them (config directories, sockets a killed daemon leaves). Exit and signal hooks are installed only while at least one testbed is alive, so a
 * program that has destroyed its testbeds keeps Node's default signal behaviour.
 */
export interface Leftovers {
  readonly pids: Set<number>;
  readonly namespaces: readonly string[];
  readonly paths: Set<string>;
}

const live = new Set<Leftovers>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function trackLeftovers(leftovers: Leftovers): void {
  if (live.size === 0) install();
  live.add(leftovers);
}

export function untrackLeftovers(leftovers: Leftovers): void {
  live.delete(leftovers);
  if (live.size === 0) uninstall();
}

/** Synchronous on purpose: an 'exit' hook cannot await, and a signal may arrive while the event loop is busy. */
export function cleanUpNow(leftovers: Leftovers): void {
  for (const pid of leftovers.pids) killGroup(pid, 'SIGKILL');
  leftovers.pids.clear();
  for (const ns of leftovers.namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // already deleted
    }
  }
  for (const path of leftovers.paths) rmSync(path, { recursive: true, force: true });
  leftovers.paths.clear();
}

function cleanUpAll(): void {
  for (const leftovers of live) cleanUpNow(leftovers);
  live.clear();
}

function onExit(): void {
  cleanUpAll();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanUpAll();
  uninstall();
  // Re-raise so the process ends the way the signal would have ended it (exit status 128 + n).
  process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}
