/**
 * Starting and stopping an impairing relay (bench/faults/relay.mjs for the fault suite's VXLAN datagrams,
 * bench/faults/tun-relay.mjs for the benchmark's WAN) inside a namespace: it prints "relay: listening" when ready
 * and its counts as one JSON line when stopped.
 */
import { join } from 'node:path';
import { spawnTracked, type TrackedProcess } from './process.js';
import { waitFor } from './transfer.js';
import { repoRoot } from './vxtun.js';

export type RelayScript = 'relay.mjs' | 'tun-relay.mjs';

/** Runs `node bench/faults/<script> ...args` in netns; resolves once it listens, rejects with its output if it exits first. */
export async function startRelayProcess(
  netns: string,
  script: RelayScript,
  args: readonly string[],
  onExit: (pid: number) => void = () => undefined,
): Promise<TrackedProcess> {
  const proc = spawnTracked(['ip', 'netns', 'exec', netns, process.execPath, join(repoRoot(), 'bench/faults', script), ...args], onExit);
  try {
    await waitFor(() => proc.output().includes('relay: listening') || proc.child.exitCode !== null, 10_000, `${script} listening`);
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  if (proc.child.exitCode !== null) throw new Error(`${script} exited: ${proc.output().trim()}`);
  return proc;
}

/** Stops the relay; returns what it did ({relayed, loss, queueFull, ...}). */
export async function stopRelayProcess(proc: TrackedProcess): Promise<Record<string, number>> {
  await proc.stop(3000);
  const line = proc
    .output()
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`the relay printed no counts: ${proc.output().trim()}`);
  return JSON.parse(line) as Record<string, number>;
}
