/**
 * The `vxtun` command line as a user meets it: --version, --help of every command with examples and the
 * environment variable of every flag, every documented flag accepted, usage errors as VXTUN_ERR_CONFIG without a
 * stack trace, and logs in one timestamp format, pretty or JSON, at the level asked for.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { configureBenchCommand } from '../../../bench/command.js';
import { freePort } from '../../../bench/registry/etcd-process.js';
import { buildProgram } from '../../../control/program.js';
import { CLI, ROOT } from '../../netns/harness.js';

/** A value each documented placeholder accepts. */
const SAMPLE: Record<string, string> = {
  '<file>': '/etc/vxtun/x.pem',
  '<dir>': '/var/lib/vxtun',
  '<n>': '2',
  '<seconds>': '5',
  '<duration>': '24h',
  '<ip>': '192.0.2.1',
  '<urls>': 'http://127.0.0.1:2379',
  '<prefix>': '/coreos.com/network',
  '<user>': 'root',
  '<password>': 'secret',
  '<name>': 'vxtun0',
  '<host:port>': '127.0.0.1:2379',
  '<ms>': '1000',
  '<level>': 'debug',
  '<format>': 'json',
  '<list>': 'vxtun',
  '<bytes>': '1500',
  '<spec>': 'delay=10ms,loss=1%',
  '<addr>': '127.0.0.1:9100',
  '<minutes>': '60',
  '<port>': '9100',
  '<version>': '1.0.0',
  '<path>': '/run/flannel/subnet.env',
  '<name-or-ip>': 'eth0',
  '<regex>': '^eth',
};

function commands(): [string, Command][] {
  const program = buildProgram();
  const leaves = (c: Command, name: string): [string, Command][] =>
    c.commands.length === 0 ? [[name, c]] : c.commands.flatMap((s) => leaves(s, `${name} ${s.name()}`));
  const sub = program.commands.filter((c) => c.name() !== 'bench').flatMap((c) => leaves(c, `vxtun ${c.name()}`));
  return [['vxtun', program], ...sub, ['vxtun bench', configureBenchCommand(new Command('vxtun bench'))]];
}

/**
 * Runs the CLI; a long-running command gets SIGTERM once `stopWhen` holds (polled, at most for 20 s), not after a
 * fixed time: on a loaded machine Node may take seconds before its first log line.
 */
function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stopWhen?: (out: string) => boolean | Promise<boolean>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VXTUN_') && !k.startsWith('FLANNELD_')));
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    let exited = false;
    const timer = setTimeout(() => child.kill('SIGTERM'), stopWhen ? 20_000 : 10_000);
    child.once('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    if (stopWhen)
      void (async () => {
        while (!exited && !(await stopWhen(out))) await sleep(50);
        child.kill('SIGTERM');
      })();
  });
}

describe('vxtun command line', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect([r.code, r.out]).toEqual([0, `${version}\n`]);
  });

  it.each(commands())('%s --help has examples, every flag has an environment variable and is accepted as documented', (_name, cmd) => {
    const help = cmd.helpInformation();
    expect(captureHelp(cmd)).toContain('Examples:');
    const flags = [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)( <[^>]+>)?/gm)].filter(
      (m) => !['--help', '--version'].includes(m[1]),
    );
    expect(flags.length).toBeGreaterThan(0);
    for (const opt of cmd.options) {
      if (opt.long === '--help' || opt.long === '--version' || opt.negate) continue;
      expect(opt.envVar, `${opt.long} has no environment variable`).toMatch(/^(VXTUN|FLANNELD)_[A-Z0-9_]+$/);
      expect(help.replace(/\s+/g, ' ')).toContain(`env: ${opt.envVar})`);
    }
    for (const [, flag, placeholder] of flags) {
      const choices = cmd.options.find((o) => o.long === flag)?.argChoices;
      const value = choices?.[0] ?? SAMPLE[placeholder?.trim() ?? ''];
      if (placeholder) expect(value, `no sample value for ${placeholder}`).toBeDefined();
      const argv = placeholder ? [flag, value] : [flag];
      const parsed = cmd.parseOptions(argv);
      expect(parsed.unknown, `${flag} documented but not accepted`).toEqual([]);
    }
  });

  it('prints durations as given and flags read their environment variable', async () => {
    const agent = buildProgram().commands.find((c) => c.name() === 'agent')!;
    expect(agent.helpInformation().replace(/\s+/g, ' ')).toContain('(default: 24h, env: FLANNELD_SUBNET_LEASE_TTL)');
    const r = await run(['agent'], { FLANNELD_PUBLIC_IP: 'not-an-ip', FLANNELD_ETCD_ENDPOINTS: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'vxtun: VXTUN_ERR_CONFIG: --public-ip not-an-ip is not an IPv4 address; give the address other hosts reach this one on\n',
    );
  });

  it('usage mistakes exit 1 with VXTUN_ERR_CONFIG and a pointer to --help, never a stack trace', async () => {
    for (const [args, env, why] of [
      [
        ['agent', '--public-ip', '192.0.2.1', '--workers', '0'],
        {},
        "option '--workers <n>' argument '0' is invalid. expected an integer in 1..64",
      ],
      [
        ['agent', '--public-ip', '192.0.2.1'],
        { FLANNELD_WORKERS: 'many' },
        "option '--workers <n>' value 'many' from env 'FLANNELD_WORKERS' is invalid. expected an integer in 1..64",
      ],
      [['agent', '--public-ip', '192.0.2.1', '--subnet-lease-ttl', '1d'], {}, 'expected a duration such as 24h, 90m or 60s, got "1d"'],
      [['registry', '--snapshot-every', '-1'], {}, "argument '-1' is invalid. expected an integer of at least 0"],
      [['--log-level', 'loud', 'registry'], {}, "option '--log-level <level>' argument 'loud' is invalid"],
      [['nonsense'], {}, "unknown command 'nonsense'"],
    ] as [string[], NodeJS.ProcessEnv, string][]) {
      const r = await run(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toMatch(/^vxtun: VXTUN_ERR_CONFIG: /);
      expect(r.err).toContain(why);
      expect(r.err).toContain('(add --help for usage and examples)');
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('logs one ISO timestamp format, pretty or JSON (--log-format), at the level asked for (--log-level)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxtun-cli-log-'));
    try {
      const port = await freePort();
      const registry = ['registry', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')];
      const firstLine = (out: string) => out.includes('\n');
      // Accepting connections means it has recovered its data dir and listens, both logged at info.
      const listening = () => accepts(port);
      const json = await run(['--log-format', 'json', ...registry], {}, firstLine);
      const first = JSON.parse(json.out.split('\n')[0]) as { time: string; level: number; msg: string };
      expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const pretty = await run([...registry, '--log-format', 'pretty'], {}, firstLine);
      expect(pretty.out.split('\n')[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: recovered \d+ log records /);
      const piped = await run(registry, {}, firstLine); // stdout is a pipe here: JSON
      expect(() => JSON.parse(piped.out.split('\n')[0])).not.toThrow();
      const quiet = await run([...registry, '--log-level', 'warn'], {}, listening);
      expect(quiet.out).toBe('');
      const viaEnv = await run(registry, { VXTUN_LOG_LEVEL: 'warn' }, listening);
      expect(viaEnv.out).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function captureHelp(cmd: Command): string {
  let text = '';
  cmd.configureOutput({
    writeOut: (s) => {
      text += s;
    },
    writeErr: (s) => {
      text += s;
    },
  });
  cmd.outputHelp();
  return text;
}
