/**
 * Registry soak: the fault suite's workloads for longer than a test may take. One registry process; an honest
 * writer whose every acknowledged put is remembered; a stream of malformed requests; watchers that never read;
 * and a kill -9 plus restart every --kill-every-s seconds. At the end every acknowledged put must be there, and
 * the peak resident size of each process life is reported.
 * `npx tsc && node dist/bench/registry/soak.js [--minutes 10] [--kill-every-s 30]` (bounded: at most 120 minutes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, 'kill-every-s': { type: 'string', default: '30' } },
});
const minutes = Math.min(120, Number(values.minutes));
const killEveryMs = Math.max(5, Number(values['kill-every-s'])) * 1000;
const ENTRY = path.join(path.dirname(new URL(import.meta.url).pathname), '../../control/registry/main.js');
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Life {
  proc: ChildProcess;
  url: string;
  peakMb: number;
}

async function start(dataDir: string): Promise<Life> {
  const proc = spawn(process.execPath, [ENTRY, 'registry', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--snapshot-every', '2000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('registry did not start within 15 s')), 15_000);
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /"url":"([^"]+)".*"msg":"registry listening"/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
      if (buf.length > 1e6) buf = buf.slice(-1e5);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code}`));
    });
  });
  return { proc, url, peakMb: 0 };
}

async function peakMb(pid: number): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  return m ? Number(m[1]) / 1024 : 0;
}

async function post(url: string, route: string, body: string): Promise<number> {
  const r = await fetch(url + route, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
  await r.arrayBuffer();
  return r.status;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'vxreg-soak-'));
  const acked = new Map<string, string>();
  const lives: Life[] = [];
  let life = await start(dataDir);
  lives.push(life);
  const end = Date.now() + minutes * 60_000;
  let nextKill = Date.now() + killEveryMs;
  let writes = 0,
    ambiguous = 0,
    malformed = 0,
    malformedAccepted = 0,
    watchers = 0;
  const startedAt = new Date();
  const garbage = ['{"key":', '{"key":5}', '[1,2', 'x', '{"key":"!!"}', '{"success":[{}]}'];
  while (Date.now() < end) {
    const url = life.url;
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const key = `/soak/${writes % 5000}`;
      const value = `v${writes}`;
      writes++;
      tasks.push(
        post(url, '/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) })).then(
          (s) => {
            if (s === 200) acked.set(key, value);
            else ambiguous++;
          },
          () => {
            ambiguous++;
          },
        ),
      );
      tasks.push(
        post(url, '/v3/kv/put', garbage[i % garbage.length]).then(
          (st) => {
            malformed++;
            if (st < 400 || st >= 500) malformedAccepted++;
          },
          () => {},
        ),
      );
    }
    if (watchers < 2000) {
      // A watcher that never reads: the registry must cut it, not buffer for it without end.
      fetch(url + '/v3/watch', {
        method: 'POST',
        body: JSON.stringify({ create_request: { key: b64('/soak/'), range_end: b64('/soak0') } }),
      }).then(
        (r) => {
          void r.body;
        },
        () => {},
      );
      watchers++;
    }
    if (Date.now() >= nextKill) {
      // Killed with this batch in flight: its writes may or may not have been acknowledged.
      life.peakMb = await peakMb(life.proc.pid!);
      const exited = new Promise((r) => life.proc.once('exit', r));
      life.proc.kill('SIGKILL');
      await Promise.all(tasks);
      await exited;
      life = await start(dataDir);
      lives.push(life);
      nextKill = Date.now() + killEveryMs;
    } else {
      await Promise.all(tasks);
    }
  }
  life.peakMb = await peakMb(life.proc.pid!);
  // Every acknowledged put must have survived every kill.
  const r = await fetch(life.url + '/v3/kv/range', {
    method: 'POST',
    body: JSON.stringify({ key: b64('/soak/'), range_end: b64('/soak0') }),
  });
  const kvs = ((await r.json()) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
  const have = new Map(kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
  // Values carry the write's number: a key may hold a later write (acknowledged or not), never an older one.
  const seq = (v: string | undefined) => (v === undefined ? -1 : Number(v.slice(1)));
  const lost = [...acked].filter(([k, v]) => seq(have.get(k)) < seq(v));
  life.proc.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
  const peaks = lives.map((l) => Math.round(l.peakMb));
  const rows = [
    {
      fault: `kill -9 every ${killEveryMs / 1000} s with 20 writes in flight, restart on the same data`,
      checked: 'every acknowledged put there at the end',
      seen: `${lives.length} process lives, ${writes} writes, ${ambiguous} not acknowledged (in flight at a kill), ${lost.length} acknowledged lost`,
      passed: lost.length === 0,
    },
    {
      fault: 'malformed requests beside the writer',
      checked: 'each refused with a 4xx',
      seen: `${malformed} sent, ${malformedAccepted} not refused with a 4xx`,
      passed: malformedAccepted === 0,
    },
    {
      fault: `${watchers} watchers that never read`,
      checked: `peak RSS of each process life under ${PEAK_LIMIT_MB} MB`,
      seen: `peaks ${peaks.join(', ')} MB`,
      passed: peaks.every((p) => p < PEAK_LIMIT_MB),
    },
  ];
  const result = {
    startedAt: startedAt.toISOString(),
    command: `node dist/bench/registry/soak.js --minutes ${minutes} --kill-every-s ${killEveryMs / 1000}`,
    rows,
  };
  console.log(JSON.stringify({ ...result, acknowledgedKeys: acked.size, peakRssMbPerLife: peaks }));
  const repo = path.join(path.dirname(new URL(import.meta.url).pathname), '../../..');
  await mkdir(path.join(repo, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(repo, `bench/results/registry-soak-${result.startedAt.replace(/[:.]/g, '-')}.json`),
    JSON.stringify(result, null, 2),
  );
  await writeReadmeTable(path.join(repo, 'README.md'), result);
  if (rows.some((r) => !r.passed)) process.exitCode = 1;
}

const PEAK_LIMIT_MB = 700;
const START = '<!-- registry-faults:start -->';
const END = '<!-- registry-faults:end -->';

async function writeReadmeTable(
  file: string,
  r: { startedAt: string; command: string; rows: { fault: string; checked: string; seen: string; passed: boolean }[] },
): Promise<void> {
  const readme = await readFile(file, 'utf8');
  const [before, rest] = readme.split(START);
  const after = rest?.split(END)[1];
  if (after === undefined) return;
  const table = [
    `Registry soak of ${r.startedAt}: \`${r.command}\`.`,
    '',
    '| fault | what was checked | what was seen | result |',
    '|---|---|---|---|',
    ...r.rows.map((row) => `| ${row.fault} | ${row.checked} | ${row.seen} | ${row.passed ? 'pass' : '**FAIL**'} |`),
  ].join('\n');
  await writeFile(file, `${before}${START}\n${table}\n${END}${after}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
