import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of /proc CPU times. */
let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a process, all its threads included (the thread-group line of /proc/<pid>/stat), in seconds. */
export function processCpuSeconds(pid: number): number {
  return parseProcessCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / ticksPerSecond();
}

/** Fields 14 and 15 of /proc/<pid>/stat; the command name (field 2) may contain spaces, so count after ')'. */
export function parseProcessCpuTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) fields[12].
  return Number(fields[11]) + Number(fields[12]);
}

/** Peak resident set size (VmHWM) of a process in bytes; undefined once it has gone. */
export function peakRssBytes(pid: number): number | undefined {
  return statusBytes(pid, 'VmHWM');
}

/** Resident set size now (VmRSS: the process's memory, shared by all its threads) in bytes; undefined once it has gone. */
export function rssBytes(pid: number): number | undefined {
  return statusBytes(pid, 'VmRSS');
}

function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU seconds from /proc/stat's first line. */
export interface SystemCpu {
  /** Kernel work: sys + irq + softirq. For kernel VXLAN this is where encapsulation runs. */
  readonly kernel: number;
  /** Everything that was not idle or iowait (includes other processes on the machine). */
  readonly busy: number;
}

export function systemCpuSeconds(): SystemCpu {
  return parseSystemCpu(readFileSync('/proc/stat', 'utf8'), ticksPerSecond());
}

export function parseSystemCpu(stat: string, ticks: number): SystemCpu {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  const [user, nice, system, , , irq, softirq] = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const kernel = (system + irq + softirq) / ticks;
  return { kernel, busy: kernel + (user + nice) / ticks };
}
