import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { VxtunError } from '../dataplane/errors.js';
import { QUICK, addBenchOptions, parseWan, resolveBenchOptions } from './options.js';

function parse(argv: string[]) {
  const cmd = addBenchOptions(new Command('bench')).exitOverride();
  cmd.parse(argv, { from: 'user' });
  return resolveBenchOptions(cmd.opts(), (name) => cmd.getOptionValueSource(name) === 'default');
}

describe('bench options', () => {
  it('defaults to every mode (the userspace tunnels too) and metric, 3 repetitions of 10 s, MTU 1500, veth defaults', () => {
    const opts = parse([]);
    expect(opts).toMatchObject({ durationS: 10, repetitions: 3, mtu: 1500, profile: 'default' });
    expect(opts.modes).toEqual(['underlay', 'kernel-vxlan', 'vxtun', 'vxtun-split', 'tinc', 'openvpn', 'wireguard-go']);
    expect(opts.vxtunWorkers).toBeUndefined();
    expect(opts.metrics).toEqual(['tcp1', 'tcp4', 'udp64', 'latency', 'ping']);
    expect(opts.outDir).toMatch(/bench[/\\]results$/);
  });

  it('--quick shortens only what was not given, and lists keep the canonical order', () => {
    expect(parse(['--quick'])).toMatchObject({ durationS: QUICK.durationS, repetitions: QUICK.repetitions });
    expect(parse(['--quick', '--duration', '5'])).toMatchObject({ durationS: 5, repetitions: QUICK.repetitions });
    expect(parse(['--modes', 'vxtun,underlay']).modes).toEqual(['underlay', 'vxtun']);
    expect(parse(['--vxtun-workers', '1']).vxtunWorkers).toBe(1);
    expect(parse(['--modes', 'wireguard-go,vxtun,openvpn,tinc']).modes).toEqual(['vxtun', 'tinc', 'openvpn', 'wireguard-go']);
  });

  it('rejects unknown modes and bad numbers with a config error naming the flag', () => {
    for (const argv of [
      ['--modes', 'wireguard'],
      ['--duration', '0'],
      ['--mtu', '1000'],
      ['--wan', 'jitter=3ms'],
      ['--vxtun-workers', '0'],
      ['--wan', 'delay=20000ms'],
    ]) {
      const attempt = () => parse(argv);
      expect(attempt, `accepted ${argv.join(' ')}`).toThrow(VxtunError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'VXTUN_ERR_CONFIG', message: expect.stringContaining(argv[0]) }));
    }
  });

  it('reads a WAN spec of delay and loss', () => {
    expect(parseWan('delay=10ms,loss=0.5%')).toEqual({ delayMs: 10, lossPct: 0.5 });
    expect(parseWan('delay=25')).toEqual({ delayMs: 25, lossPct: 0 });
  });
});
