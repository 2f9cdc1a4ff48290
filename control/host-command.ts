/** Runs a host tool (iproute2, nft, iptables) with a timeout and returns its stdout; a non-zero exit rejects with its stderr. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export type RunCommand = (file: string, args: readonly string[]) => Promise<string>;

export const runCommand: RunCommand = async (file, args) => {
  try {
    return (await exec(file, [...args], { timeout: 10_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
};
