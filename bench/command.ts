import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { VxtunError } from '../dataplane/errors.js';
import type { ModeName } from './modes.js';
import { addBenchOptions, resolveBenchOptions, type CliBenchOptions } from './options.js';
import { renderMarkdown } from './report/markdown.js';
import { renderSvg } from './report/svg.js';
import type { BenchResult } from './result.js';
import { runBench } from './runner.js';
import { addEnvVars, reportUsageErrors } from '../control/cli-options.js';
import { requireTools } from './testbed/tools.js';

const DESCRIPTION =
  'measure underlay, kernel VXLAN (as Flannel sets it up), vxtun and the userspace tunnels tinc, ' +
  'OpenVPN and wireguard-go on a two-namespace testbed';

/**
 * Options and action of the bench command, for `vxtun bench` (which loads this module lazily) and for the
 * stand-alone `npm run bench`. Errors are thrown to the caller's printer (control/log.ts runProgram).
 */
export function configureBenchCommand(cmd: Command): Command {
  return addBenchOptions(addEnvVars(reportUsageErrors(cmd).description(DESCRIPTION), () => 'VXTUN_BENCH_'))
    .addHelpText(
      'after',
      `
Examples:
  sudo vxtun bench --quick                                  all modes, short runs (a few minutes)
  sudo vxtun bench --modes kernel-vxlan,vxtun --metrics tcp1,udp64,latency --repetitions 3 --duration 5
  sudo vxtun bench --wan delay=10ms,loss=0.5% --out /tmp/results`,
    )
    .action(async (raw) => {
      await benchAction(resolveBenchOptions(raw, (name) => cmd.getOptionValueSource(name) === 'default'));
    });
}

/** The whole `bench` command: preflight, run (progress on stderr), write the three files, print the table. */
export async function benchAction(opts: CliBenchOptions): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new VxtunError(
      'VXTUN_ERR_PERMISSION',
      'the benchmark creates network namespaces: run it as root ' + '(sudo npm run bench, or sudo vxtun bench)',
    );
  }
  checkTools(opts);
  const started = Date.now();
  process.stderr.write(
    `vxtun bench: modes ${opts.modes.join(', ')}; metrics ${opts.metrics.join(', ')}; ` + `${opts.repetitions} × ${opts.durationS} s\n`,
  );
  const result = await runBench(opts, (line) => {
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  });
  const files = writeResults(result, opts.outDir);
  process.stdout.write(renderMarkdown(result));
  process.stderr.write(`wrote ${files.join(', ')}\n`);
  if (result.summary.length === 0) {
    throw new VxtunError('VXTUN_ERR_BENCH', 'no mode produced a single measurement; see the failures above');
  }
}

export function writeResults(result: BenchResult, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const files: [string, string][] = [
    [join(outDir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`],
    [join(outDir, `${stamp}.md`), renderMarkdown(result)],
    [join(outDir, `${stamp}.svg`), renderSvg(result)],
  ];
  for (const [path, content] of files) writeFileSync(path, content);
  return files.map(([path]) => path);
}

const TOOLS: readonly { command: string; pkg: string; needed: (o: CliBenchOptions) => boolean }[] = [
  { command: 'ip', pkg: 'iproute2', needed: () => true },
  { command: 'bridge', pkg: 'iproute2', needed: (o) => o.modes.includes('kernel-vxlan') },
  { command: 'ethtool', pkg: 'ethtool', needed: () => true },
  { command: 'ss', pkg: 'iproute2', needed: () => true },
  { command: 'sysctl', pkg: 'procps', needed: (o) => o.wan !== undefined },
  { command: 'iperf3', pkg: 'iperf3', needed: () => true },
  { command: 'sockperf', pkg: 'sockperf', needed: () => true },
  { command: 'ping', pkg: 'iputils-ping', needed: (o) => o.metrics.includes('ping') || o.modes.some(isPeerMode) },
  { command: 'tincd', pkg: 'tinc', needed: (o) => o.modes.includes('tinc') },
  { command: 'openvpn', pkg: 'openvpn', needed: (o) => o.modes.includes('openvpn') },
  { command: 'wireguard-go', pkg: 'wireguard-go', needed: (o) => o.modes.includes('wireguard-go') },
  { command: 'wg', pkg: 'wireguard-tools', needed: (o) => o.modes.includes('wireguard-go') },
];

function isPeerMode(mode: ModeName): boolean {
  return mode === 'tinc' || mode === 'openvpn' || mode === 'wireguard-go';
}

function checkTools(opts: CliBenchOptions): void {
  requireTools(
    TOOLS.filter((t) => t.needed(opts)),
    'VXTUN_ERR_BENCH',
    'the benchmark',
  );
}
