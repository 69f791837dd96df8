import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openRawStream } from '../../../test-support/security-probe.js';
import { expectStallAnswered408, SHORT_TIMEOUTS } from '../../../test-support/stalled-request.js';
import type { DashboardOptions, RunningDashboard } from '../src/server.js';
import { postReadings, start, waitFor } from './helpers.js';

let app: RunningDashboard | undefined;
let lines: string[] = [];

async function open(options: Partial<DashboardOptions> = {}): Promise<RunningDashboard> {
  lines = [];
  app = await start({ log: (line) => lines.push(line), ...options });
  return app;
}
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const base = () => `http://127.0.0.1:${app?.port}`;
const command = (name: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base()}/api/commands/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** A WebSocket that sends one command and resolves with its result envelope. */
function wsCommand(
  name: string,
  data: unknown,
  headers: Record<string, string> = {},
): Promise<{ ok: boolean; error?: { code: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${app?.port}/api/ws`, 'boardcast.v1', { headers });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'command', id: 1, command: name, data })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; ok: boolean; error?: { code: string } };
      if (frame.type !== 'result') return;
      ws.close();
      resolve(frame);
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

const openStream = (path = '/api/events', headers: Record<string, string> = {}) =>
  openRawStream(`${base()}${path}`, headers);

const ALARM = { sensor: 'humidity', low: 1, high: 2 };

describe('sensor-dashboard: control token', () => {
  it('without a token (loopback default) the commands are open', async () => {
    await open();
    expect((await command('set_alarm', ALARM)).status).toBe(200);
    expect((await wsCommand('inject', { count: 1 })).ok).toBe(true);
  });

  it('with a token: set_alarm and inject without it are refused 401 over HTTP and WebSocket, and change nothing', async () => {
    const running = await open({ controlToken: 'ctl-secret', token: 'ingest-secret' });
    const before = JSON.stringify(running.hub.state);
    for (const [name, data] of [
      ['set_alarm', ALARM],
      ['inject', { count: 5 }],
    ] as const) {
      const res = await command(name, data);
      expect(res.status, name).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
      expect((await wsCommand(name, data)).error?.code, name).toBe('unauthorized');
      // The device's ingest token is not the control token. Wrong credentials are refused, and
      // sse-server's createTokenAccess throttles guesses per address (429 while the wait runs).
      const wrongs: Record<string, string>[] = [
        { Authorization: 'Bearer ingest-secret' },
        { Cookie: 'dashboard_session=forged' },
      ];
      for (const wrong of wrongs) {
        expect([401, 429]).toContain((await command(name, data, wrong)).status);
      }
    }
    expect(JSON.stringify(running.hub.state)).toBe(before);
    // Watching stays open; ingest keeps its own token.
    const stream = await openStream();
    expect(stream.status).toBe(200);
    stream.destroy();
    const ingest = await postReadings(
      base(),
      { sensor: 'light', value: 10 },
      {
        'Content-Type': 'application/json',
        Authorization: 'Bearer ingest-secret',
      },
    );
    expect(ingest.status).toBe(200);
    expect(lines).toContainEqual(expect.stringMatching(/^cmd {2}set_alarm via http: unauthorized/));
  });

  it('with a token: the bearer token, or the cookie from /?token=, may run them over HTTP and WebSocket', async () => {
    const running = await open({ controlToken: 'ctl-secret' });
    expect((await command('set_alarm', ALARM, { Authorization: 'Bearer ctl-secret' })).status).toBe(200);
    expect(running.hub.state.alarms.humidity).toEqual({ low: 1, high: 2 });

    expect((await fetch(`${base()}/?token=wrong`, { redirect: 'manual' })).status).toBe(401);
    // A wrong guess makes this address wait (1 s, doubling): the right token is let in once it is over.
    const login = await waitFor(async () => {
      const res = await fetch(`${base()}/?token=ctl-secret&transport=ws`, { redirect: 'manual' });
      return res.status === 429 ? undefined : res;
    }, 'the login after the throttle wait');
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/?transport=ws');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).not.toContain('ctl-secret');
    const cookie = { Cookie: setCookie.split(';')[0] ?? '' };
    expect((await command('inject', { count: 1, sensor: 'light' }, cookie)).status).toBe(200);
    expect((await wsCommand('set_alarm', { ...ALARM, high: 3 }, cookie)).ok).toBe(true);
    expect(running.hub.state.alarms.humidity).toEqual({ low: 1, high: 3 });
  });
});

describe('sensor-dashboard: headers, logs, slow clients', () => {
  it('the page, its files and the API forbid framing, inline script and MIME sniffing', async () => {
    await open();
    for (const path of ['/api/events?x', '/api/readings', '/nope']) {
      const res = await fetch(`${base()}${path}`, path.startsWith('/api/events') ? { method: 'HEAD' } : {});
      await res.arrayBuffer();
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });

  it('a command name with %0A or CR stays on its log line, shown as escapes', async () => {
    await open();
    await (await command('set_alarm%0Acmd%20%20set_alarm%20via%20http:%20ok%0D', ALARM)).arrayBuffer();
    await waitFor(() => lines.length > 0, 'a log line');
    for (const line of lines) expect(line).not.toMatch(/\p{Cc}/u);
    expect(lines).toContainEqual(expect.stringContaining('cmd  set_alarm\\ncmd  set_alarm via http: ok\\r'));
  });

  it('a client that sends part of its headers and stalls is answered 408 and closed after headersTimeout', async () => {
    const running = await open({ timeouts: SHORT_TIMEOUTS });
    await expectStallAnswered408(running, 'POST /api/readings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz');
  });

  it('an ingest body that stalls is closed after requestTimeout and stores nothing', async () => {
    const running = await open({ timeouts: SHORT_TIMEOUTS });
    await expectStallAnswered408(
      running,
      'POST /api/readings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"sensor":"light",',
    );
    expect(running.hub.state.device.readings).toBe(0);
  });

  it('an SSE stream outlives requestTimeout and keeps delivering readings', async () => {
    await open({ timeouts: SHORT_TIMEOUTS });
    const stream = await openStream();
    expect(stream.status).toBe(200);
    // requestTimeout covers receiving the request, not a response still streaming.
    await new Promise((resolve) => setTimeout(resolve, SHORT_TIMEOUTS.requestTimeout * 3));
    expect(stream.closed()).toBe(false);
    expect((await postReadings(base(), { sensor: 'light', value: 42 })).status).toBe(200);
    await waitFor(() => /event: reading/.test(stream.text()), 'the reading on the old stream');
    stream.destroy();
  });

  it('one address holds at most maxStreamsPerAddress SSE streams and WebSockets (503 beyond)', async () => {
    await open({ maxStreamsPerAddress: 1 });
    const first = await openStream();
    expect(first.status).toBe(200);
    const second = await openStream();
    expect(second.status).toBe(503);
    second.destroy();
    const ws = new WebSocket(`ws://127.0.0.1:${app?.port}/api/ws`, 'boardcast.v1');
    await new Promise((resolve) => ws.once('open', resolve));
    const refused = await new Promise<number>((resolve) => {
      const other = new WebSocket(`ws://127.0.0.1:${app?.port}/api/ws`, 'boardcast.v1');
      other.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      other.on('open', () => resolve(101));
    });
    expect(refused).toBe(503);
    ws.close();
    first.destroy();
  });
});
