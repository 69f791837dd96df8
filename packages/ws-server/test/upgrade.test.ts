import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { BoardcastError, ERROR_CODES, type ErrorCode } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createWsEndpoint, type WsRejection } from '../src/index.js';
import { refusalCloseCode } from '../src/refuse-in-band.js';
import { closeAll, heldAuthorize, listen, makeHub, refusal, setup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

/**
 * Browsers' upgrades over raw sockets that read the answer (to a server
 * refusing with `code`, too_many_clients unless told) and never close: each
 * holds its in-band refusal for closeTimeoutMs. `upgrade` resolves with what
 * the server sent.
 */
function heldBrowserUpgrades(port: number, path: string, code = 'too_many_clients') {
  const sockets: Socket[] = [];
  const upgrade = (localAddress: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress });
      sockets.push(socket);
      let text = '';
      socket.setEncoding('latin1');
      socket.on('error', reject);
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes(code) && (text.startsWith('HTTP/1.1 101') || text.includes('}'))) {
          resolve(text);
        }
      });
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: boardcast.v1\r\n\r\n',
      );
    });
  const destroy = () => {
    for (const socket of sockets) socket.destroy();
  };
  /** The first held refusal ends: `address` is told inside a socket again (the bound counts live ones only). */
  const freeOne = async (address: string) => {
    sockets[0]?.destroy();
    await waitFor(async () => (await upgrade(address)).startsWith('HTTP/1.1 101 '), `a place for ${address}`);
  };
  return { sockets, upgrade, destroy, freeOne };
}

describe('subprotocol', () => {
  it('refuses a client that offers no subprotocol with 400 and a JSON reason', async () => {
    const { url, endpoint } = await setup();
    const rejections: WsRejection[] = [];
    endpoint.on('reject', (r) => rejections.push(r));
    const { status, body } = await refusal(url, { protocols: [] });
    expect(status).toBe(400);
    expect(body.error.code).toBe('unsupported');
    expect(body.error.message).toContain('boardcast.v1');
    expect(rejections).toMatchObject([{ status: 400, code: 'unsupported' }]);
  });

  it('refuses a client that offers another subprotocol', async () => {
    const { url } = await setup();
    const { status } = await refusal(url, { protocols: ['mqtt', 'boardcast.v2'] });
    expect(status).toBe(400);
  });

  it('accepts boardcast.v1 among several offered protocols', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url, { protocols: ['other', 'boardcast.v1'] });
    expect(client.ws.protocol).toBe('boardcast.v1');
  });
});

describe('origin check (cross-site WebSocket hijacking)', () => {
  it('refuses a page from another site (403 forbidden_origin, told in band to a browser) before anything of the hub', async () => {
    const { url, endpoint, hub } = await setup();
    let connected = 0;
    endpoint.on('connect', () => connected++);
    const { status, body, inBand } = await refusal(url, { origin: 'https://evil.example' });
    expect(status).toBe(403);
    expect(inBand).toBe(true);
    expect(body.error).toEqual({ code: 'forbidden_origin', message: 'origin https://evil.example is not allowed' });
    expect(connected).toBe(0);
    expect(endpoint.clientCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
  });

  it('accepts a page served by the same host:port', async () => {
    const { url, port } = await setup();
    const client = await TestClient.open(url, { origin: `http://127.0.0.1:${port}` });
    await client.next((f) => f.type === 'snapshot');
  });

  it('refuses the same host on another port', async () => {
    const { url, port } = await setup();
    const { status } = await refusal(url, { origin: `http://127.0.0.1:${port + 1}` });
    expect(status).toBe(403);
  });

  it('accepts clients without Origin by default and refuses them when told to', async () => {
    const open = await setup();
    await TestClient.open(open.url);
    const strict = await setup({ allowMissingOrigin: false });
    const { status, body } = await refusal(strict.url);
    expect(status).toBe(403);
    expect(body.error.message).toBe('an Origin header is required');
  });

  it('accepts exactly the listed origins', async () => {
    const { url } = await setup({ allowedOrigins: ['https://panel.example.com'] });
    await TestClient.open(url, { origin: 'https://panel.example.com' });
    expect((await refusal(url, { origin: 'https://panel.example.com.evil.net' })).status).toBe(403);
    expect((await refusal(url, { origin: 'null' })).status).toBe(403);
  });

  it('lets a function decide', async () => {
    const { url } = await setup({ allowedOrigins: (origin) => origin.endsWith('.local') });
    await TestClient.open(url, { origin: 'http://board.local' });
    expect((await refusal(url, { origin: 'http://board.example' })).status).toBe(403);
  });
});

describe('authorize', () => {
  it('refuses with 401 when authorize returns false', async () => {
    const { url } = await setup({ authorize: () => false });
    const { status, body } = await refusal(url);
    expect(status).toBe(401);
    expect(body.error.code).toBe('unauthorized');
  });

  it('uses the status of a thrown BoardcastError (403)', async () => {
    const { url } = await setup({
      authorize: async (request) => {
        if (request.header('Authorization') !== 'Bearer good') throw new BoardcastError('forbidden', 'wrong token');
        return { user: 'ada' };
      },
    });
    const { status, body } = await refusal(url, { headers: { authorization: 'Bearer bad' } });
    expect(status).toBe(403);
    expect(body.error).toEqual({ code: 'forbidden', message: 'wrong token' });
    const client = await TestClient.open(url, { headers: { authorization: 'Bearer good' } });
    client.send({ type: 'command', id: 1, command: 'whoami', data: null });
    expect((await client.result(1)).data.auth).toEqual({ user: 'ada' });
  });

  it('gets the upgrade as a BoardcastRequest: method, path and query, case-insensitive headers, raw request', async () => {
    const seen: Array<{ method: string; path: string; key: string | null; cookie: unknown; raw: unknown }> = [];
    const { url } = await setup({
      authorize: (request) => {
        seen.push({
          method: request.method,
          path: request.url.pathname,
          key: request.url.searchParams.get('key'),
          cookie: request.header('COOKIE'),
          raw: request.raw.headers.cookie,
        });
        return true;
      },
    });
    await TestClient.open(`${url}?key=k1`, { headers: { cookie: 'sid=abc' } });
    expect(seen).toEqual([{ method: 'GET', path: '/ws', key: 'k1', cookie: 'sid=abc', raw: 'sid=abc' }]);
  });

  it('answers 500 without leaking details when authorize crashes, and reports the error', async () => {
    const { url, hub } = await setup({
      authorize: () => {
        throw new Error('database password is hunter2');
      },
    });
    const errors: unknown[] = [];
    hub.on('error', (error, where) => errors.push([where, (error as Error).message]));
    const { status, body } = await refusal(url);
    expect(status).toBe(500);
    expect(body.error).toEqual({ code: 'handler_failed', message: 'authorization failed' });
    expect(errors).toEqual([['ws-server authorize', 'database password is hunter2']]);
  });
});

describe('every refusal of a browser is told inside the socket', () => {
  // Any HTTP refusal reads as close 1006 in a browser, and the browser client's
  // plain-HTTP question then stops it with upgrade_failed, even for "later".
  const page = (port: number) => ({ origin: `http://127.0.0.1:${port}` });

  it('a throttled authorize: 429 too_many_requests with only details.retryAfterMs in the envelope', async () => {
    const { url, port } = await setup({
      authorize: () => {
        throw new BoardcastError('too_many_requests', 'slow down', { details: { retryAfterMs: 1500, user: 'ada' } });
      },
    });
    const browser = await refusal(url, page(port));
    expect(browser.inBand).toBe(true);
    expect(browser.status).toBe(429);
    expect(browser.body).toEqual({
      type: 'error',
      error: { code: 'too_many_requests', message: 'slow down', details: { retryAfterMs: 1500 } },
    });
    const device = await refusal(url);
    expect(device.inBand).toBeUndefined();
    expect(device.status).toBe(429);
    expect(device.headers?.['retry-after']).toBe('2');
  });

  it('an authorize that throws: 500 handler_failed (close 1011) without its message', async () => {
    const { url, port, hub } = await setup({
      authorize: () => {
        throw new Error('database password is hunter2');
      },
    });
    hub.on('error', () => undefined);
    const browser = await refusal(url, page(port));
    expect(browser.inBand).toBe(true);
    expect(browser.status).toBe(500);
    expect(browser.body).toEqual({ type: 'error', error: { code: 'handler_failed', message: 'authorization failed' } });
    const device = await refusal(url);
    expect(device.inBand).toBeUndefined();
    expect(device.status).toBe(500);
    expect(device.body.error).toEqual({ code: 'handler_failed', message: 'authorization failed' });
  });

  it('an upgrade still in authorize when the server shuts down: closed (close 1000)', async () => {
    const held = heldAuthorize();
    const { url, port, endpoint } = await setup({ authorize: held.authorize });
    const browser = refusal(url, page(port));
    const device = refusal(url);
    await waitFor(() => held.calls === 2, 'both in authorize');
    const closing = endpoint.close();
    held.release();
    expect(await browser).toMatchObject({ inBand: true, body: { error: { code: 'closed' } } });
    const answer = await device;
    expect(answer.inBand).toBeUndefined();
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('closed');
    await closing;
  });

  it('a shutdown tells every browser in authorize inside the socket, past the per-address bound (one proxy address)', async () => {
    // Behind a proxy without trustProxy every browser has the proxy's address.
    const held = heldAuthorize();
    const { url, port, endpoint } = await setup({ authorize: held.authorize });
    const browsers = Array.from({ length: 12 }, () => refusal(url, { ...page(port), localAddress: '127.0.0.1' }));
    await waitFor(() => held.calls === 12, 'all 12 in authorize');
    const closing = endpoint.close();
    for (const browser of await Promise.all(browsers)) {
      expect(browser).toMatchObject({ inBand: true, body: { error: { code: 'closed' } } });
    }
    await closing;
  });

  it('reports each shutdown refusal through reject, once: an authorize settling later adds none', async () => {
    const held = heldAuthorize();
    let settled = 0;
    const { url, port, endpoint } = await setup({
      authorize: async () => {
        await held.authorize();
        settled++;
        return false;
      },
    });
    const rejects: WsRejection[] = [];
    endpoint.on('reject', (rejection) => rejects.push(rejection));
    const browser = refusal(url, page(port));
    const device = refusal(url);
    await waitFor(() => held.calls === 2, 'both in authorize');
    const closing = endpoint.close();
    expect(rejects.map(({ status, code }) => ({ status, code }))).toEqual([
      { status: 503, code: 'closed' },
      { status: 503, code: 'closed' },
    ]);
    held.release();
    await waitFor(() => settled === 2, 'both authorize calls settled');
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([browser, device, closing]);
    expect(rejects.map(({ code }) => code)).toEqual(['closed', 'closed']);
  });

  it('close() waits for a shutdown refusal socket whose peer never finishes the close', async () => {
    const held = heldAuthorize();
    const { port, server, endpoint } = await setup({ authorize: held.authorize, closeTimeoutMs: 200 });
    const browsers = heldBrowserUpgrades(port, endpoint.path, 'closed');
    try {
      const told = browsers.upgrade('127.0.0.1');
      await waitFor(() => held.calls === 1, 'in authorize');
      const closing = endpoint.close();
      expect((await told).startsWith('HTTP/1.1 101 ')).toBe(true);
      await closing;
      // The silent peer's socket was terminated before close() resolved.
      const connections = await new Promise<number>((resolve, reject) =>
        server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
      expect(connections).toBe(0);
    } finally {
      browsers.destroy();
    }
  });

  it('a bad query: 400 invalid_payload (close 1007); a browser that did not offer boardcast.v1 keeps the HTTP 400', async () => {
    const { url, port } = await setup();
    const browser = await refusal(`${url}?events=nope`, page(port));
    expect(browser).toMatchObject({ status: 400, inBand: true, body: { error: { code: 'invalid_payload' } } });
    const device = await refusal(`${url}?events=nope`);
    expect(device.inBand).toBeUndefined();
    expect(device.status).toBe(400);
    expect(device.body.error.code).toBe('invalid_payload');
    const other = await refusal(url, { ...page(port), protocols: ['mqtt'] });
    expect(other.inBand).toBeUndefined();
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('unsupported');
  });

  it("closes with core's table code, never one an endpoint may not send (1005, 1006, 1015)", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const sent = refusalCloseCode(new BoardcastError(code, 'refused'));
      expect([1005, 1006, 1015], code).not.toContain(sent);
      if (![1005, 1006, 1015].includes(ERROR_CODES[code].close)) expect(sent, code).toBe(ERROR_CODES[code].close);
    }
    // Core's client-side codes (1006 in the table) are 5xx: internal error.
    expect(refusalCloseCode(new BoardcastError('upgrade_failed', 'x'))).toBe(1011);
    expect(refusalCloseCode(new BoardcastError('closed', 'x'))).toBe(1000);
  });
});

describe('limits and coexistence', () => {
  it('refuses clients beyond maxClients with 503, counting upgrades still being authorized', async () => {
    const held = heldAuthorize();
    const { url, endpoint } = await setup({ maxClients: 2, authorize: held.authorize });
    const first = TestClient.open(url);
    const second = TestClient.open(url);
    // Both are waiting in authorize: the third is already one too many.
    await waitFor(() => held.calls === 2, 'two upgrades in authorize');
    expect(endpoint.clientCount).toBe(0);
    const { status, body } = await refusal(url);
    expect(status).toBe(503);
    expect(body.error.code).toBe('too_many_clients');
    held.release();
    await Promise.all([first, second]);
    expect(endpoint.clientCount).toBe(2);
    expect((await refusal(url)).status).toBe(503);
  });

  it('tells a browser the server is full inside the socket (too_many_clients, close 1013), others over HTTP 503', async () => {
    const { url, port, endpoint } = await setup({ maxClients: 1 });
    await TestClient.open(url);
    const rejections: WsRejection[] = [];
    endpoint.on('reject', (r) => rejections.push(r));
    // A browser (Origin, boardcast.v1) would read an HTTP 503 as a lost network (close 1006).
    const browser = await refusal(url, { origin: `http://127.0.0.1:${port}` });
    expect(browser).toMatchObject({ status: 503, inBand: true, body: { error: { code: 'too_many_clients' } } });
    // curl, devices, the `ws` package: the plain HTTP answer, as before.
    const device = await refusal(url);
    expect(device.inBand).toBeUndefined();
    expect(device.status).toBe(503);
    expect(device.body.error.code).toBe('too_many_clients');
    expect(rejections).toMatchObject([
      { status: 503, code: 'too_many_clients' },
      { status: 503, code: 'too_many_clients' },
    ]);
    // A refused browser never takes the place.
    expect(endpoint.clientCount).toBe(1);
  });

  it('bounds the refusals told inside a socket at once (64, or maxClients when larger); past it, HTTP', async () => {
    // Refused browsers that never finish the close hold their socket for closeTimeoutMs.
    const { url, port, endpoint } = await setup({ maxClients: 1, closeTimeoutMs: 60_000 });
    await TestClient.open(url);
    const browsers = heldBrowserUpgrades(port, endpoint.path);
    try {
      // 8 addresses × 8 (the per-address bound): the 64 of the bound in all.
      const addresses = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
      const told = await Promise.all(
        addresses.flatMap((address) => Array.from({ length: 8 }, () => browsers.upgrade(address))),
      );
      // Each of the 64 got the handshake and the error inside it, and holds its socket.
      expect(told.filter((answer) => answer.startsWith('HTTP/1.1 101 '))).toHaveLength(64);
      const past = await browsers.upgrade('127.0.0.9');
      expect(past.startsWith('HTTP/1.1 503 ')).toBe(true);
      // One refusal gone: its place is free for the next browser.
      await browsers.freeOne('127.0.0.1');
    } finally {
      browsers.destroy();
    }
  });

  it('bounds the refusals one address holds inside sockets (8); past it that address gets HTTP, others still in band', async () => {
    const { url, port, endpoint } = await setup({ maxClients: 1, closeTimeoutMs: 60_000 });
    await TestClient.open(url);
    const browsers = heldBrowserUpgrades(port, endpoint.path);
    try {
      const told = await Promise.all(Array.from({ length: 8 }, () => browsers.upgrade('127.0.0.1')));
      expect(told.filter((answer) => answer.startsWith('HTTP/1.1 101 '))).toHaveLength(8);
      // The 9th from the address holding 8: the HTTP answer.
      const ninth = await browsers.upgrade('127.0.0.1');
      expect(ninth.startsWith('HTTP/1.1 503 ')).toBe(true);
      // Another address is still told inside the socket.
      const other = await refusal(url, { localAddress: '127.0.0.2', origin: `http://127.0.0.1:${port}` });
      expect(other).toMatchObject({ status: 503, inBand: true, body: { error: { code: 'too_many_clients' } } });
      // One of the 8 gone: that address is told in band again.
      await browsers.freeOne('127.0.0.1');
    } finally {
      browsers.destroy();
    }
  });

  it('caps sockets per remote address with maxClientsPerAddress, freeing the slot when one closes', async () => {
    const { url, endpoint } = await setup({ maxClientsPerAddress: 2 });
    const a = await TestClient.open(url, { localAddress: '127.0.0.1' });
    await TestClient.open(url, { localAddress: '127.0.0.1' });
    const third = await refusal(url, { localAddress: '127.0.0.1' });
    expect(third.status).toBe(503);
    expect(third.body.error.code).toBe('too_many_clients');
    // Another loopback address (all of 127/8 on Linux) is another address.
    await TestClient.open(url, { localAddress: '127.0.0.2' });
    expect(endpoint.clients().map((c) => c.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2']);
    a.ws.close();
    await waitFor(() => endpoint.clientCount === 2, 'a closed');
    await TestClient.open(url, { localAddress: '127.0.0.1' });
    // Refused and failed upgrades never keep a slot.
    expect(endpoint.clientCount).toBe(3);
  });

  it('handles only its own path and leaves other upgrade handlers alone', async () => {
    const hub = makeHub();
    const server = createServer();
    const endpoint = createWsEndpoint(hub, { server, path: '/live' });
    const other = new WebSocketServer({ noServer: true });
    server.on('upgrade', (request, socket, head) => {
      if (request.url === '/board') other.handleUpgrade(request, socket, head, (ws) => ws.send('board link'));
    });
    const port = await listen(server);
    const board = new TestClient(`ws://127.0.0.1:${port}/board`, { protocols: 'boardcast-board.v1' });
    expect((await board.next((f) => f.type === 'not-json')).text).toBe('board link');
    const ui = await TestClient.open(`ws://127.0.0.1:${port}/live`);
    await ui.next((f) => f.type === 'snapshot');
    expect(endpoint.clientCount).toBe(1);
    await endpoint.close();
    // The other handler's socket was never touched by the endpoint, not even by its shutdown.
    expect(board.ws.readyState).toBe(board.ws.OPEN);
    expect(server.listenerCount('upgrade')).toBe(1);
    other.close();
  });

  it('serves the page and the socket on one port', async () => {
    const { port, url } = await setup();
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(await page.text()).toBe('page');
    await TestClient.open(url);
  });

  it('keeps permessage-deflate off by default', async () => {
    const { url } = await setup();
    const client = await TestClient.open(url, { perMessageDeflate: true });
    expect(client.ws.extensions).toBe('');
  });

  it('negotiates permessage-deflate when configured, and still streams events and results', async () => {
    const { url, hub } = await setup({ perMessageDeflate: { threshold: 0 } });
    const client = await TestClient.open(url, { perMessageDeflate: true });
    expect(client.ws.extensions).toContain('permessage-deflate');
    await client.next((f) => f.type === 'snapshot');
    const id = await hub.publish('blob', 'z'.repeat(5000));
    client.send({ type: 'command', id: 1, command: 'led', data: { state: 'on' } });
    expect(await client.next((f) => f.type === 'event' && f.id === id)).toMatchObject({ data: 'z'.repeat(5000) });
    expect((await client.result(1)).ok).toBe(true);
    await waitFor(() => client.events().length === 2, 'led event');
  });
});
