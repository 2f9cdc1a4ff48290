import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { startRegistry, type RegistryOptions, type RunningRegistry } from '../../control/registry/index.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const ENTRY = path.join(ROOT, 'dist/control/registry/main.js');

export const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
export const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

export async function tempDir(prefix = 'vxreg-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Compiles the project when the registry's compiled entry is missing or older than its sources. */
export function ensureBuilt(): void {
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0);
    }, 0);
  if (fs.existsSync(ENTRY) && fs.statSync(ENTRY).mtimeMs >= newest(path.join(ROOT, 'control/registry'))) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  if (!fs.existsSync(ENTRY)) throw new Error(`build did not produce ${ENTRY}`);
}

export interface RegistryProcess {
  url: string;
  proc: ChildProcess;
  log: string[];
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

/** Runs the registry as its own process (so it can be kill -9'ed) and waits for its "listening" log line. */
/** `launcher` runs the registry through another command that execs it (e.g. nsenter into a mount namespace). */
export async function spawnRegistry(dataDir: string, args: string[] = [], launcher: string[] = []): Promise<RegistryProcess> {
  const argv = [process.execPath, ENTRY, 'registry', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args];
  const proc = spawn([...launcher, ...argv][0], [...launcher, ...argv].slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${log.join('')}`)), 15_000);
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        log.push(line);
        const m = /"url":"([^"]+)".*"msg":"registry listening"/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    });
    proc.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code}: ${log.join('\n')}`));
    });
  });
  return {
    url,
    proc,
    log,
    kill9: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Reply {
  status: number;
  body: string;
  json: any;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POST with a raw body; never throws on a status, only on a transport failure. */
export function post(url: string, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url + route, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Opens POST /v3/watch and collects `result` lines until `until` is satisfied or the time runs out. */
export function watch(url: string, create: Record<string, unknown>) {
  const lines: any[] = [];
  let waiter: (() => void) | undefined;
  const req = http.request(url + '/v3/watch', { method: 'POST' }, (res) => {
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
      waiter?.();
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.write(JSON.stringify({ create_request: create }));
  return {
    lines,
    async until(pred: (lines: any[]) => boolean, ms = 5000): Promise<boolean> {
      const end = Date.now() + ms;
      while (!pred(lines) && Date.now() < end) {
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 50);
        });
      }
      return pred(lines);
    },
    send: (msg: unknown) => req.write(JSON.stringify(msg)),
    close: () => req.destroy(),
  };
}

/** Starts an in-process registry on port 0 in a temp data dir for the current test file; removes both after it. */
export function inProcessRegistry(
  prefix: string,
  setup?: (url: string) => Promise<void>,
  options: Partial<RegistryOptions> = {},
): { readonly url: string } {
  let reg: RunningRegistry | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await tempDir(prefix);
    reg = await startRegistry({ listen: '127.0.0.1:0', dataDir: dir, logger: pino({ level: 'silent' }), ...options });
    await setup?.(reg.url);
  });
  afterAll(async () => {
    await reg?.close();
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });
  return {
    get url() {
      return reg!.url;
    },
  };
}

/** Replaces one leaf (or adds a field) somewhere in a JSON value. */
export function mutate(v: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || v === null || typeof v !== 'object') return replacement;
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v as object);
  if (entries.length === 0) return replacement;
  const [k, child] = entries[path[0] % entries.length];
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
  copy[k] = mutate(child, path.slice(1), replacement);
  return copy;
}
