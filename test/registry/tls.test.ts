import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startRegistry, type RunningRegistry } from '../../control/registry/index.js';
import { b64, tempDir } from './helpers.js';

/** Security defaults: plain-text only on loopback; TLS with client certificates for both transports. */
const run = promisify(execFile);
let dir: string;
let reg: RunningRegistry | undefined;
const f = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(async () => {
  dir = await tempDir('vxreg-tls-');
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=vxtun-test-ca',
  );
  const certs = [
    ['server', '/CN=vxtun-registry', 'subjectAltName=IP:127.0.0.1'],
    ['client', '/O=vxtun-client', 'extendedKeyUsage=clientAuth'],
  ];
  for (const [name, subject, ext] of certs) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    await fs.writeFile(f(`${name}.ext`), ext + '\n');
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
  reg = await startRegistry({
    listen: '127.0.0.1:0',
    dataDir: f('data'),
    logger: pino({ level: 'silent' }),
    certFile: f('server.crt'),
    keyFile: f('server.key'),
    trustedCaFile: f('ca.crt'),
  });
}, 60_000);
afterAll(async () => {
  await reg?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function request(route: string, body: unknown, withClientCert: boolean): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) =>
    (async () => {
      const opts: https.RequestOptions = { method: 'POST', ca: await fs.readFile(f('ca.crt')) };
      if (withClientCert) {
        opts.cert = await fs.readFile(f('client.crt'));
        opts.key = await fs.readFile(f('client.key'));
      }
      const req = https.request(reg!.url + route, opts, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    })().catch(reject),
  );
}

describe('registry security defaults', () => {
  it('refuses plain-text on a non-loopback address unless told --insecure', async () => {
    await expect(startRegistry({ listen: '0.0.0.0:0', dataDir: f('refused'), logger: pino({ level: 'silent' }) })).rejects.toMatchObject({
      code: 'VXTUN_ERR_REGISTRY_LISTEN',
      message: expect.stringMatching(/--cert-file and --key-file, or --insecure/),
    });
  });

  it('serves the gateway over HTTPS to clients with a certificate from the trusted CA only', async () => {
    expect(reg!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await request('/v3/kv/put', { key: b64('/tls'), value: b64('yes') }, true);
    expect(ok.status).toBe(200);
    await expect(request('/v3/kv/range', { key: b64('/tls') }, false)).rejects.toThrow();
  });

  it('serves gRPC over TLS (ALPN h2) to etcdctl with a client certificate', async () => {
    const env = { ...process.env, ETCDCTL_API: '3' };
    const tlsArgs = [
      '--endpoints',
      reg!.url,
      '--cacert',
      f('ca.crt'),
      '--cert',
      f('client.crt'),
      '--key',
      f('client.key'),
      '--command-timeout=5s',
    ];
    expect((await run('etcdctl', [...tlsArgs, 'get', '/tls', '--print-value-only'], { env })).stdout).toBe('yes\n');
    await expect(
      run('etcdctl', ['--endpoints', reg!.url, '--cacert', f('ca.crt'), '--command-timeout=3s', 'get', '/tls'], { env, timeout: 15_000 }),
    ).rejects.toThrow();
  });
});
