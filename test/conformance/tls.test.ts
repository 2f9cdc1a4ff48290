/**
 * The client over HTTPS with a private CA, against etcd 3.4.23 and the embedded registry serving the same
 * certificate; a client that does not trust the CA is refused with a registry error, not a crash.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdClient, text } from '../../control/etcd/index.js';
import { startRegistry } from '../../control/registry/index.js';
import { startEtcd } from '../../bench/registry/etcd-process.js';

const dir = mkdtempSync(join(tmpdir(), 'vxtun-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=vxtun-test',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ],
  { stdio: 'ignore' },
);
const ca = readFileSync(certFile);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function roundTrip(url: string): Promise<void> {
  expect(url.startsWith('https://')).toBe(true);
  const trusted = new EtcdClient({ endpoints: [url], tls: { ca } });
  const untrusted = new EtcdClient({ endpoints: [url] });
  try {
    await trusted.put('/tls/k', 'secret');
    expect(text((await trusted.get('/tls/k'))?.value)).toBe('secret');
    const refused = await untrusted.get('/tls/k').catch((e) => e);
    expect(refused.code).toBe('VXTUN_ERR_REGISTRY_UNAVAILABLE');
    expect(refused.message).toMatch(/certificate is not trusted: pass the CA/);
  } finally {
    trusted.close();
    untrusted.close();
  }
}

describe('TLS', () => {
  it('etcd 3.4.23 over HTTPS with a private CA', async () => {
    const etcd = await startEtcd({ tls: { certFile, keyFile, ca } });
    try {
      await roundTrip(etcd.url);
    } finally {
      await etcd.stop();
    }
  });

  it('embedded registry over HTTPS with a private CA', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vxtun-tls-registry-'));
    const reg = await startRegistry({
      listen: '127.0.0.1:0',
      dataDir,
      certFile,
      keyFile,
      logger: pino({ level: 'error' }, pino.destination(2)),
    });
    try {
      await roundTrip(reg.url);
    } finally {
      await reg.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
