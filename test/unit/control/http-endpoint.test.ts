/** The agent's local HTTP endpoint: /healthz and /readyz read the agent's state; other routes plug in beside them. */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentState } from '../../../control/agent-state.js';
import { startHttpEndpoint, type HttpEndpoint } from '../../../control/http-endpoint.js';

const silent = { info() {}, warn() {}, error() {} } as never;

describe('agent HTTP endpoint', () => {
  let ep: HttpEndpoint | undefined;
  afterEach(async () => {
    await ep?.close();
    ep = undefined;
  });

  it('answers /healthz at once, /readyz 503 until the agent is running and ready, then 200 with the state', async () => {
    const state = new AgentState();
    ep = await startHttpEndpoint({ host: '127.0.0.1', port: 0, routes: state.healthRoutes() }, silent);
    const get = async (path: string, method = 'GET') => {
      const r = await fetch(`http://127.0.0.1:${ep!.port}${path}`, { method });
      return { status: r.status, text: await r.text() };
    };
    expect((await get('/healthz')).status).toBe(200);
    const waiting = await get('/readyz');
    expect(waiting.status).toBe(503);
    expect(JSON.parse(waiting.text)).toMatchObject({ phase: 'waiting', ready: false, registry: { connected: false } });

    state.update({
      phase: 'running',
      ready: true,
      lease: { subnet: '10.244.3.0/24', ipv6Subnet: null, expiresAt: '2026-01-01T00:00:00.000Z' },
    });
    state.registryUp();
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({
      lease: { subnet: '10.244.3.0/24' },
      registry: { connected: true, unreachableSince: null },
    });

    expect(state.registryDown('connect ECONNREFUSED', new Date('2026-01-01T00:00:05Z'))).toBe(true);
    expect(state.registryDown('still down')).toBe(false);
    expect(JSON.parse((await get('/healthz')).text).registry).toEqual({
      connected: false,
      unreachableSince: '2026-01-01T00:00:05.000Z',
      lastError: 'still down',
    });
    // The dataplane keeps forwarding through an outage, so the agent stays ready.
    expect((await get('/readyz')).status).toBe(200);

    expect((await get('/nope')).status).toBe(404);
    expect((await get('/healthz', 'POST')).status).toBe(405);
  });

  it('takes extra routes (e.g. /metrics) and keeps serving when one throws', async () => {
    ep = await startHttpEndpoint({ host: '127.0.0.1', port: 0 }, silent);
    ep.route('/metrics', () => ({ status: 200, body: 'vxtun_up 1\n', contentType: 'text/plain; version=0.0.4' }));
    ep.route('/broken', () => {
      throw new Error('boom');
    });
    const m = await fetch(`http://127.0.0.1:${ep.port}/metrics`);
    expect([m.status, m.headers.get('content-type'), await m.text()]).toEqual([200, 'text/plain; version=0.0.4', 'vxtun_up 1\n']);
    expect((await fetch(`http://127.0.0.1:${ep.port}/broken`)).status).toBe(500);
    expect((await fetch(`http://127.0.0.1:${ep.port}/metrics`)).status).toBe(200);
  });

  it('refuses a port already in use with a coded error', async () => {
    ep = await startHttpEndpoint({ host: '127.0.0.1', port: 0 }, silent);
    await expect(startHttpEndpoint({ host: '127.0.0.1', port: ep.port }, silent)).rejects.toMatchObject({ code: 'VXTUN_ERR_CONFIG' });
  });
});
