/**
 * trustProxy on the WebSocket upgrade, over real sockets: 127.0.0.1 plays
 * the proxy, clients bound to 127.0.0.2 are peers that are not one. The run
 * through a real nginx is sse-server's test/nginx.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, refusal, setup, TestClient } from './helpers.js';

afterEach(closeAll);

describe('trustProxy (WebSocket)', () => {
  it('the per-address cap counts the forwarded client; the connect event reports it', async () => {
    const { url, endpoint } = await setup({ trustProxy: ['127.0.0.1'], maxClientsPerAddress: 1 });
    const seen: Array<string | undefined> = [];
    endpoint.on('connect', (info) => seen.push(info.remoteAddress));
    await TestClient.open(url, { headers: { 'X-Forwarded-For': '198.51.100.1' } });
    await TestClient.open(url, { headers: { 'X-Forwarded-For': '198.51.100.2' } });
    const second = await refusal(url, { headers: { 'X-Forwarded-For': '198.51.100.1' } });
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('too_many_clients');
    expect(seen).toEqual(['198.51.100.1', '198.51.100.2']);
  });

  it("an untrusted peer's X-Forwarded-For is ignored", async () => {
    const { url } = await setup({ trustProxy: ['127.0.0.1'], maxClientsPerAddress: 1 });
    await TestClient.open(url, { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '203.0.113.1' } });
    const spoofed = await refusal(url, { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '203.0.113.2' } });
    expect(spoofed.status).toBe(503);
  });

  it("the page's public origin passes behind the proxy; an https origin on the plain server does not", async () => {
    const { url, port } = await setup({ trustProxy: ['127.0.0.1'], allowedHosts: ['panel.example.com'] });
    const forwarded = { 'X-Forwarded-Host': 'panel.example.com', 'X-Forwarded-Proto': 'https' };
    await TestClient.open(url, { headers: { ...forwarded, Origin: 'https://panel.example.com' } });
    const direct = await refusal(url, {
      localAddress: '127.0.0.2',
      headers: { ...forwarded, Origin: 'https://panel.example.com' },
    });
    expect(direct.body.error.code).toBe('forbidden_origin');
    for (const origin of [`https://127.0.0.1:${port}`, `http://127.0.0.1:${port}/page`]) {
      const refused = await refusal(url, { localAddress: '127.0.0.2', headers: { Origin: origin } });
      expect(refused.body.error.code, origin).toBe('forbidden_origin');
    }
    await TestClient.open(url, { localAddress: '127.0.0.2', headers: { Origin: `http://127.0.0.1:${port}` } });
  });
});
