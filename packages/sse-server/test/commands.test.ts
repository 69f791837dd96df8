import { request as httpRequest } from 'node:http';
import { text as readText } from 'node:stream/consumers';
import { BoardcastError, type CommandLog } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BoardcastHttpOptions,
  type BoardcastRequest,
  boardcastHttp,
  type CommandEndpointOptions,
  createCommandEndpoint,
} from '../src/index.js';
import { listen, makeHub, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;

async function setup(options: CommandEndpointOptions = {}) {
  hub = makeHub();
  const commands = createCommandEndpoint(hub, options);
  server = await listen(commands.node);
  return server.url;
}

function post(path: string, body: BodyInit, headers: Record<string, string> = {}, method = 'POST') {
  return fetch(`${server?.url}${path}`, {
    method,
    body: method === 'GET' ? undefined : body,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A JSON POST for a fetch handler (`api.fetch`), built in memory: no socket. */
function jsonRequest(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  return new Request(`http://localhost${path}`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', ...headers },
    // A stream body needs it (Node's fetch); a string ignores it.
    duplex: 'half',
  } as RequestInit);
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = await response.json();
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  return body.error.message as string;
}

afterEach(async () => {
  await hub?.close();
  await server?.close();
  server = undefined;
});

describe('command endpoint (node:http)', () => {
  it('dispatches a JSON command and answers 200 with the JSON result', async () => {
    await setup();
    const published: string[] = [];
    hub.on('publish', (event) => published.push(`${event.event}:${event.json}`));
    const response = await post('/api/commands/led', '{"state":"on"}');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ on: true });
    expect(published).toEqual(['led:{"on":true}']);
    const toggled = await post('/api/commands/led/', '{"state":"toggle"}', {
      'Content-Type': 'Application/JSON; charset=utf-8',
    });
    expect(await toggled.json()).toEqual({ on: false });
  });

  it('refuses a wrong content type with 415, a form post included', async () => {
    await setup();
    await expectError(
      await post('/commands/led', '{"state":"on"}', { 'Content-Type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    const form = await fetch(`${server?.url}/commands/led`, {
      method: 'POST',
      body: new URLSearchParams({ state: 'on' }),
    });
    await expectError(form, 415, 'unsupported_media_type');
    expect(hub.state.led.on).toBe(false);
  });

  it('answers 405 with Allow for other methods', async () => {
    await setup();
    const response = await post('/commands/led', '', {}, 'GET');
    await expectError(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
    await expectError(await post('/commands/led', '{}', {}, 'PUT'), 405, 'method_not_allowed');
  });

  it('answers 400 invalid_payload for bad JSON, for __proto__ keys and for schema failures', async () => {
    await setup();
    await expectError(await post('/commands/led', '{"state":'), 400, 'invalid_payload');
    await expectError(await post('/commands/echo', '{"__proto__":{"admin":true}}'), 400, 'invalid_payload');
    await expectError(await post('/commands/echo', '{"a":{"constructor":{"prototype":1}}}'), 400, 'invalid_payload');
    const message = await expectError(await post('/commands/led', '{"state":"blink"}'), 400, 'invalid_payload');
    expect(message).toContain('state');
    await expectError(await post('/commands/echo', new Uint8Array([0x22, 0xff, 0x22])), 400, 'invalid_payload');
  });

  it('answers 413 payload_too_large by declared length and while streaming, and keeps serving', async () => {
    await setup({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ text: 'x'.repeat(2000) });
    await expectError(await post('/commands/echo', big), 413, 'payload_too_large');

    // Chunked upload without Content-Length: refused once the limit is passed.
    const { port } = new URL(server?.url ?? '');
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/commands/echo',
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          readText(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
        },
      );
      req.on('error', reject);
      req.write('{"text":"');
      req.write('y'.repeat(1500));
      // Never finish the body: the server must answer anyway.
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('payload_too_large');

    const small = await post('/commands/echo', '{"ok":1}');
    expect(await small.json()).toEqual({ ok: 1 });
  });

  it('answers 404 unknown_command for a name outside the contract or without a handler', async () => {
    await setup();
    await expectError(await post('/commands/reboot', '{}'), 404, 'unknown_command');
    await expectError(await post('/commands/__proto__', '{}'), 404, 'unknown_command');
    await expectError(await post('/commands/%E0%A4%A', '{}'), 404, 'unknown_command');
  });

  it('answers 500 handler_failed without leaking the error, and 504 timeout for a slow handler', async () => {
    await setup();
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    const message = await expectError(await post('/commands/crash', 'null'), 500, 'handler_failed');
    expect(message).not.toContain('secret');
    expect(message).not.toContain('/srv');
    expect(errors).toHaveLength(1);
    await expectError(await post('/commands/slow', ''), 504, 'timeout');
  });

  it('passes what authorize returns to handlers as context.auth, and answers 401/403 when it refuses', async () => {
    await setup({
      authorize: async (request) => {
        const token = request.header('authorization');
        if (token === 'Bearer admin') return { user: 'admin' };
        if (token === 'Bearer guest') throw new BoardcastError('forbidden', 'guests may not send commands');
        if (token === 'Bearer broken') throw new Error('database down: password=hunter2');
        return false;
      },
    });
    // A hook that fails (not a refusal) is a server fault: reported on the hub, never to the client.
    const errors: [error: unknown, where: unknown][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    const ok = await post('/commands/whoami', '', { Authorization: 'Bearer admin' });
    expect(await ok.json()).toEqual({ auth: { user: 'admin' }, transport: 'http' });
    await expectError(await post('/commands/whoami', ''), 401, 'unauthorized');
    await expectError(await post('/commands/whoami', '', { Authorization: 'Bearer guest' }), 403, 'forbidden');
    const message = await expectError(
      await post('/commands/whoami', '', { Authorization: 'Bearer broken' }),
      500,
      'handler_failed',
    );
    expect(message).not.toContain('hunter2');
    expect(errors).toEqual([[new Error('database down: password=hunter2'), 'sse-server authorize']]);
  });

  it('refuses an Origin outside the allow-list with 403 forbidden_origin', async () => {
    await setup({ allowedOrigins: ['http://panel.local'] });
    await expectError(
      await post('/commands/led', '{"state":"on"}', { Origin: 'http://evil.example' }),
      403,
      'forbidden_origin',
    );
    expect(hub.state.led.on).toBe(false);
    const allowed = await post('/commands/led', '{"state":"on"}', { Origin: 'http://panel.local' });
    expect(allowed.status).toBe(200);
    const noOrigin = await post('/commands/led', '{"state":"off"}');
    expect(noOrigin.status).toBe(200);
  });
});

describe('command endpoint reject event', () => {
  it('reports every request refused before dispatch exactly once, so reject + hub command = one line per request', async () => {
    hub = makeHub();
    const commands = createCommandEndpoint(hub, {
      maxBodyBytes: 1024,
      allowedOrigins: ['http://panel.local'],
      authorize: (request) => {
        const token = request.header('authorization');
        if (token === 'Bearer guest') throw new BoardcastError('forbidden', 'guests may not send commands');
        if (token === 'Bearer broken') throw new Error('database down');
        return token === 'Bearer ok' ? { user: 'ok' } : false;
      },
    });
    server = await listen(commands.node);
    const lines: string[] = [];
    const requests: BoardcastRequest[] = [];
    commands.on('reject', (error, request, command) => {
      lines.push(`reject ${command} ${error.status} ${error.code}`);
      requests.push(request);
    });
    hub.on('command', (log: CommandLog) => lines.push(`command ${log.command} ${log.ok ? 'ok' : log.code}`));
    hub.on('error', () => undefined);
    const auth = { Authorization: 'Bearer ok' };

    await post('/commands/led', '{"state":"on"}', auth, 'GET');
    await post('/commands/led', '{"state":"on"}', { ...auth, Origin: 'http://evil.example' });
    await post('/commands/led', '{"state":"on"}');
    await post('/commands/led', '{"state":"on"}', { Authorization: 'Bearer guest' });
    await post('/commands/led', '{"state":"on"}', { Authorization: 'Bearer broken' });
    await post('/commands/led', '{"state":"on"}', { ...auth, 'Content-Type': 'text/plain' });
    await post('/commands/echo', JSON.stringify({ text: 'x'.repeat(2000) }), auth);
    await post('/commands/led', '{"state":', auth);
    // These reach hub.dispatch, so the hub reports them and the endpoint does not.
    await post('/commands/led', '{"state":"blink"}', auth);
    await post('/commands/reboot', '{}', auth);
    await post('/commands/led', '{"state":"on"}', auth);

    await waitFor(() => lines.length === 11, `11 lines, got ${lines.join(' | ')}`);
    expect(lines).toEqual([
      'reject led 405 method_not_allowed',
      'reject led 403 forbidden_origin',
      'reject led 401 unauthorized',
      'reject led 403 forbidden',
      'reject led 500 handler_failed',
      'reject led 415 unsupported_media_type',
      'reject echo 413 payload_too_large',
      'reject led 400 invalid_payload',
      'command led invalid_payload',
      'command reboot unknown_command',
      'command led ok',
    ]);
    expect(requests[0]?.method).toBe('GET');
    expect(requests[1]?.header('origin')).toBe('http://evil.example');
    // Not `every()` alone: that is true for an empty list too.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((request) => !request.url.pathname.startsWith('/commands/'))).toEqual([]);
  });

  it('fires on the fetch handler and on boardcastHttp().commands too', async () => {
    hub = makeHub();
    const api = boardcastHttp(hub, { base: '/api', authorize: (request) => request.header('x-key') === 'k' });
    const seen: Array<{ code: string; command: string | undefined; raw: boolean }> = [];
    api.commands.on('reject', (error, request, command) =>
      seen.push({ code: error.code, command, raw: request.raw instanceof Request }),
    );
    const refused = await api.fetch(jsonRequest('/api/commands/led', '{"state":"on"}'));
    expect(refused.status).toBe(401);
    const accepted = await api.fetch(jsonRequest('/api/commands/led', '{"state":"on"}', { 'x-key': 'k' }));
    expect(accepted.status).toBe(200);
    expect(seen).toEqual([{ code: 'unauthorized', command: 'led', raw: true }]);
    api.close();
  });
});

describe('boardcastHttp router', () => {
  async function route(options: BoardcastHttpOptions) {
    hub = makeHub();
    const api = boardcastHttp(hub, options);
    server = await listen(api.node);
    return api;
  }

  it('routes GET <base>/events and POST <base>/commands/<name>, 404 elsewhere, one authorize for both', async () => {
    const api = await route({
      base: '/api/',
      authorize: (request) => (request.header('x-key') === 'k' ? { key: 'k' } : false),
    });
    const stream = await fetch(`${server?.url}/api/events`, { headers: { 'x-key': 'k' } });
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await stream.body?.cancel();
    expect((await fetch(`${server?.url}/api/events`)).status).toBe(401);
    const command = await post('/api/commands/whoami', '', { 'x-key': 'k' });
    expect(await command.json()).toEqual({ auth: { key: 'k' }, transport: 'http' });
    expect((await fetch(`${server?.url}/api/other`)).status).toBe(404);
    expect((await fetch(`${server?.url}/events`)).status).toBe(404);
    expect(api.matches('/api/commands/led')).toBe(true);
    expect(api.matches('/api/commands/')).toBe(false);
    api.close();
  });

  it('serves the same routes through its fetch handler', async () => {
    hub = makeHub();
    const api = boardcastHttp(hub, { base: '/api' });
    const result = await api.fetch(jsonRequest('/api/commands/led', '{"state":"on"}'));
    expect(await result.json()).toEqual({ on: true });
    const stream = await api.fetch(new Request('http://localhost/api/events'));
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: snapshot')) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/^retry: 3000\n\n/);
    expect(text).toContain('data: {"led":{"on":true}}');
    await reader.cancel();
    expect(api.sse.clientCount).toBe(0);
    expect((await api.fetch(new Request('http://localhost/nope'))).status).toBe(404);
    // Body limit and bad JSON on the fetch path too.
    const big = await api.fetch(
      jsonRequest(
        '/api/commands/echo',
        new ReadableStream({
          start(controller) {
            for (let i = 0; i < 100; i++) controller.enqueue(new Uint8Array(1024).fill(32));
            controller.close();
          },
        }),
      ),
    );
    expect(big.status).toBe(413);
    const bad = await api.fetch(jsonRequest('/api/commands/echo', '{"__proto__":{}}'));
    expect(bad.status).toBe(400);
  });
});
