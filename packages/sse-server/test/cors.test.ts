import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { listen, makeHub, type TestServer } from './helpers.js';

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: ReturnType<typeof makeHub> | undefined;

afterEach(async () => {
  await endAll(api, hub, server);
  server = api = hub = undefined;
});

const PAGE = 'http://localhost:5173';

async function setup(options: BoardcastHttpOptions = {}) {
  hub = makeHub();
  const made = boardcastHttp(hub, { base: '/api', ...options });
  api = made;
  server = await listen((req, res) => made.node(req, res));
  return server.url;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real request with the headers a browser would send (fetch will not let Node set Origin on a preflight). */
function send(url: string, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      res.on('data', (chunk: string) => {
        text += chunk;
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          done();
          req.destroy();
        }
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const preflight = (url: string, method: string, extra: Record<string, string> = {}) =>
  send(url, 'OPTIONS', { Origin: PAGE, 'Access-Control-Request-Method': method, ...extra });

/** The `led` command with a JSON `body`, as a page on `origin` posts it. */
const postLed = (base: string, body: string, origin = PAGE) =>
  send(`${base}/api/commands/led`, 'POST', { Origin: origin, 'Content-Type': 'application/json' }, body);

describe('CORS for the origins in allowedOrigins', () => {
  it('answers a command preflight and the command itself for a listed origin, with credentials and Vary: Origin', async () => {
    const base = await setup({ allowedOrigins: [PAGE] });
    const pre = await preflight(`${base}/api/commands/led`, 'POST', {
      'Access-Control-Request-Headers': 'content-type, authorization',
      'Access-Control-Request-Private-Network': 'true',
    });
    expect(pre.status).toBe(204);
    expect(pre.body).toBe('');
    expect(pre.headers['access-control-allow-origin']).toBe(PAGE);
    expect(pre.headers['access-control-allow-credentials']).toBe('true');
    expect(pre.headers['access-control-allow-methods']).toBe('POST');
    expect(pre.headers['access-control-allow-headers']).toBe('content-type, authorization');
    expect(pre.headers['access-control-allow-private-network']).toBe('true');
    expect(pre.headers['access-control-max-age']).toBe('600');
    expect(pre.headers.vary).toMatch(/^Origin\b/);

    const command = await postLed(base, '{"state":"on"}');
    expect(command.status).toBe(200);
    expect(JSON.parse(command.body)).toEqual({ on: true });
    expect(command.headers['access-control-allow-origin']).toBe(PAGE);
    expect(command.headers['access-control-allow-credentials']).toBe('true');
    expect(command.headers.vary).toBe('Origin');

    // An error is readable too, so the page can tell why (here: a bad payload).
    const bad = await postLed(base, '{"state":"sideways"}');
    expect(bad.status).toBe(400);
    expect(bad.headers['access-control-allow-origin']).toBe(PAGE);
  });

  it('serves the event stream and its preflight (fetch mode sends Last-Event-ID) to a listed origin', async () => {
    const base = await setup({ allowedOrigins: [PAGE] });
    const pre = await preflight(`${base}/api/events`, 'GET', { 'Access-Control-Request-Headers': 'last-event-id' });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toBe('GET, POST');
    expect(pre.headers['access-control-allow-headers']).toBe('last-event-id');
    const stream = await send(`${base}/api/events`, 'GET', { Origin: PAGE, Accept: 'text/event-stream' });
    expect(stream.status).toBe(200);
    expect(stream.headers['access-control-allow-origin']).toBe(PAGE);
    expect(stream.headers['access-control-allow-credentials']).toBe('true');
    expect(stream.headers.vary).toBe('Origin');
  });

  it('refuses every other origin as before: 403 forbidden_origin, no CORS header, authorize never called', async () => {
    let authorized = 0;
    const base = await setup({
      allowedOrigins: [PAGE],
      authorize: () => {
        authorized++;
        return true;
      },
    });
    for (const [path, method] of [
      ['/api/commands/led', 'POST'],
      ['/api/events', 'GET'],
    ] as const) {
      const pre = await send(`${base}${path}`, 'OPTIONS', {
        Origin: 'http://evil.example',
        'Access-Control-Request-Method': method,
      });
      expect(pre.status, path).toBe(403);
      expect(JSON.parse(pre.body).error.code).toBe('forbidden_origin');
      expect(pre.headers['access-control-allow-origin'], path).toBeUndefined();
      expect(pre.headers.vary).toBe('Origin');
      const real = await send(`${base}${path}`, method, { Origin: 'http://evil.example' });
      expect(real.status, path).toBe(403);
      expect(real.headers['access-control-allow-origin'], path).toBeUndefined();
    }
    // A preflight never runs authorize (browsers send no credentials on it).
    await preflight(`${base}/api/commands/led`, 'POST');
    expect(authorized).toBe(0);
    expect(hub?.state.led.on).toBe(false);
  });

  it("'*' allows any origin without credentials; the default same-host adds no CORS header at all", async () => {
    const open = await setup({ allowedOrigins: '*' });
    const pre = await preflight(`${open}/api/commands/led`, 'POST');
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(pre.headers.vary).toBeUndefined();
    await endAll(api, hub, server);

    const base = await setup();
    const host = new URL(base).host;
    const same = await postLed(base, '{"state":"on"}', `http://${host}`);
    expect(same.status).toBe(200);
    expect(same.headers['access-control-allow-origin']).toBeUndefined();
    const cross = await preflight(`${base}/api/commands/led`, 'POST');
    expect(cross.status).toBe(403);
  });

  it('answers OPTIONS without Origin with Allow, and other methods with 405 naming OPTIONS too', async () => {
    const base = await setup({ allowedOrigins: [PAGE] });
    const options = await send(`${base}/api/commands/led`, 'OPTIONS', {});
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expect(options.headers['access-control-allow-origin']).toBeUndefined();
    const put = await send(`${base}/api/events`, 'PUT', { Origin: PAGE });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST, OPTIONS');
    expect(put.headers['access-control-allow-origin']).toBe(PAGE);
  });

  it('works the same through the Fetch handler (a 204 preflight has no body)', async () => {
    hub = makeHub();
    api = boardcastHttp(hub, { base: '/api', allowedOrigins: [PAGE] });
    const pre = await api.fetch(
      new Request('http://127.0.0.1/api/commands/led', {
        method: 'OPTIONS',
        headers: { Origin: PAGE, 'Access-Control-Request-Method': 'POST' },
      }),
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(PAGE);
    const result = await api.fetch(
      new Request('http://127.0.0.1/api/commands/led', {
        method: 'POST',
        headers: { Origin: PAGE, 'Content-Type': 'application/json' },
        body: '{"state":"on"}',
      }),
    );
    expect(result.status).toBe(200);
    expect(result.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(result.headers.get('vary')).toBe('Origin');
  });
});
