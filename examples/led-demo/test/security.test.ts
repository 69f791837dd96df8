import { get as httpGet } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openRawStream } from '../../../test-support/security-probe.js';
import { expectStallAnswered408, SHORT_TIMEOUTS } from '../../../test-support/stalled-request.js';
import { type Demo, type DemoOptions, startDemo } from '../src/server.js';
import { waitFor } from './helpers.js';

let demo: Demo | undefined;
let lines: string[] = [];

async function start(options: DemoOptions = {}): Promise<Demo> {
  lines = [];
  demo = await startDemo({ port: 0, host: '127.0.0.1', log: (line) => lines.push(line), ...options });
  return demo;
}
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

const origin = () => `http://127.0.0.1:${demo?.port}`;

/** The status of a GET from another local address (another client as far as the demo can tell). */
function loginStatusFrom(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { localAddress }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${origin()}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** Open a WebSocket and resolve with the HTTP status it was refused with, or 101 once open. */
function wsStatus(headers: Record<string, string> = {}, query = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${demo?.port}/api/ws${query}`, 'boardcast.v1', { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('error', reject);
  });
}

const openStream = (path = '/api/events', headers: Record<string, string> = {}) =>
  openRawStream(`${origin()}${path}`, headers);

describe('led-demo: security headers', () => {
  it('every page file and API answer forbids framing, inline script and MIME sniffing', async () => {
    await start();
    for (const path of ['/', '/index.html', '/app.js', '/style.css', '/api/state', '/nope']) {
      const res = await fetch(`${origin()}${path}`);
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });
});

describe('led-demo: --page-token', () => {
  it('open by default: commands and the simulated inputs need no credential', async () => {
    await start();
    expect((await post('/api/commands/led', { state: 'on' })).status).toBe(200);
    expect((await post('/api/sim/inputs/0', { value: 0 })).status).toBe(200);
    expect(await wsStatus()).toBe(101);
  });

  it('with a token: every transport, /api/state and /api/sim refuse a request without it (401)', async () => {
    await start({ pageToken: 's3cret' });
    const command = await post('/api/commands/led', { state: 'on' });
    expect(command.status).toBe(401);
    expect((await command.json()).error.code).toBe('unauthorized');
    expect((await post('/api/sim/inputs/0', { value: 0 })).status).toBe(401);
    expect((await fetch(`${origin()}/api/state`)).status).toBe(401);
    const stream = await openStream();
    expect(stream.status).toBe(401);
    stream.destroy();
    expect(await wsStatus()).toBe(401);
    // A wrong token is refused too, and nothing ran.
    expect((await post('/api/commands/led', { state: 'on' }, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect(demo?.hub.state.led.on).toBe(false);
    // From another address: the wrong Bearer token above makes this one wait a second (429, throttling).
    expect(await loginStatusFrom('127.0.0.2', `${origin()}/?token=wrong`)).toBe(401);
  });

  it('with a token: the bearer token, or the cookie from /?token=, is let through everywhere', async () => {
    await start({ pageToken: 's3cret' });
    const bearer = { Authorization: 'Bearer s3cret' };
    expect((await post('/api/commands/led', { state: 'on' }, bearer)).status).toBe(200);
    expect(demo?.hub.state.led.on).toBe(true);

    const login = await fetch(`${origin()}/?token=s3cret&transport=ws`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    // The token leaves the address bar; other parameters stay.
    expect(login.headers.get('location')).toBe('/?transport=ws');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    // The cookie is not the token itself.
    expect(setCookie).not.toContain('s3cret');
    const cookie = { Cookie: setCookie.split(';')[0] ?? '' };
    expect((await post('/api/commands/led', { state: 'off' }, cookie)).status).toBe(200);
    expect((await fetch(`${origin()}/api/state`, { headers: cookie })).status).toBe(200);
    const stream = await openStream('/api/events', cookie);
    expect(stream.status).toBe(200);
    stream.destroy();
    expect(await wsStatus(cookie)).toBe(101);
    // A cookie made for another token does not pass.
    expect((await post('/api/commands/led', { state: 'on' }, { Cookie: 'led_demo_session=forged' })).status).toBe(401);
  });
});

describe('led-demo: log lines', () => {
  it('a network value with %0A, CR or ESC stays on its line, shown as escapes', async () => {
    await start();
    // Command name from the URL path (unknown command → refused and logged).
    const forged = '/api/commands/led%0A2026-11-29%20cmd%20%20led%20via%20http:%20ok%0D';
    await (await post(forged, { state: 'on' })).arrayBuffer();
    // ?lastEventId on the SSE stream and the WebSocket.
    const stream = await openStream('/api/events?lastEventId=7%0Aforged%1B[2J');
    await waitFor(() => stream.text().includes('snapshot'), 'the snapshot');
    stream.destroy();
    expect(await wsStatus({}, '?lastEventId=8%0Aforged')).toBe(101);
    await waitFor(() => lines.some((l) => l.startsWith('ws   disconnect')), 'the ws disconnect line');

    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).not.toMatch(/\p{Cc}/u);
    expect(lines).toContainEqual(expect.stringContaining('cmd  led\\n2026-11-29 cmd  led via http: ok\\r'));
    expect(lines).toContainEqual(expect.stringContaining('resume 7\\nforged\\x1b[2J'));
    expect(lines).toContainEqual(expect.stringContaining('resume 8\\nforged'));
  });
});

describe('led-demo: board connection log', () => {
  it('the connect line carries the board data from its hello', async () => {
    await start({ board: { kind: 'remote', token: 'bt', id: 'esp32' } });
    const agent = new WebSocket(`ws://127.0.0.1:${demo?.port}/board`, 'boardcast-board.v1', {
      headers: { Authorization: 'Bearer bt' },
    });
    await new Promise((resolve, reject) => {
      agent.once('open', resolve);
      agent.once('error', reject);
    });
    agent.send(
      JSON.stringify({
        type: 'hello',
        id: 'esp32',
        firmware: 'test-agent/1.0 micropython-1.23.0 esp32',
        pins: [
          { pin: 5, modes: ['output'] },
          { pin: 0, modes: ['input_pullup'] },
          { pin: 4, modes: ['input_pulldown'] },
        ],
        sensors: ['hall'],
      }),
    );
    const line = await waitFor(() => lines.find((l) => l.startsWith('board connect')), 'the board connect line');
    expect(line).toBe(
      'board connect    esp32 firmware test-agent/1.0 micropython-1.23.0 esp32 pins 5,0,4 sensors hall',
    );
    agent.terminate();
  });
});

describe('led-demo: slow clients', () => {
  it('a client that sends part of its headers and stalls is answered 408 and closed after headersTimeout', async () => {
    const running = await start({ timeouts: SHORT_TIMEOUTS });
    await expectStallAnswered408(running, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
  });

  it('a client that stalls in its body is closed after requestTimeout', async () => {
    const running = await start({ timeouts: SHORT_TIMEOUTS });
    await expectStallAnswered408(
      running,
      'POST /api/commands/led HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"st',
    );
    expect(running.hub.state.led.on).toBe(false);
  });

  it('an SSE stream and a WebSocket outlive requestTimeout and keep delivering events', async () => {
    await start({ timeouts: SHORT_TIMEOUTS, timeIntervalMs: 100 });
    const stream = await openStream();
    expect(stream.status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${demo?.port}/api/ws`, 'boardcast.v1');
    await new Promise((resolve) => ws.once('open', resolve));
    // requestTimeout covers receiving the request, not a response still
    // streaming: after 3× requestTimeout the stream still gets new events.
    await new Promise((resolve) => setTimeout(resolve, SHORT_TIMEOUTS.requestTimeout * 3));
    expect(stream.closed()).toBe(false);
    const before = stream.text().length;
    await waitFor(
      () => stream.text().length > before && /event: time/.test(stream.text().slice(before)),
      'a new event',
    );
    stream.destroy();
    // An upgraded socket has left Node's HTTP timeouts behind too.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    await expect(new Promise((resolve) => ws.once('message', resolve))).resolves.toBeDefined();
    ws.close();
  });

  it('one address holds at most maxStreamsPerAddress SSE streams and WebSockets (503 beyond)', async () => {
    await start({ maxStreamsPerAddress: 2 });
    const open = [await openStream(), await openStream()];
    expect(open.map((s) => s.status)).toEqual([200, 200]);
    const third = await openStream();
    expect(third.status).toBe(503);
    third.destroy();
    const sockets = [
      new WebSocket(`ws://127.0.0.1:${demo?.port}/api/ws`, 'boardcast.v1'),
      new WebSocket(`ws://127.0.0.1:${demo?.port}/api/ws`, 'boardcast.v1'),
    ];
    await Promise.all(sockets.map((ws) => new Promise((resolve) => ws.once('open', resolve))));
    expect(await wsStatus()).toBe(503);
    for (const ws of sockets) ws.close();
    for (const s of open) s.destroy();
  });
});
