/**
 * "Progress or stop" and liveness, with real sockets: sse-server and
 * ws-server from the workspace, a real TCP proxy that goes silent without
 * FIN or RST (test-support/tcp-proxy.ts), and bare servers only for answers
 * the real endpoints never give (a 400 to a resume id, `retry: 0`).
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, defineContract, typed } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import { type BoardcastClient, connect, MIN_RETRY_DELAY_MS } from '../src/index.js';
import {
  cleanups,
  contract,
  countingServer,
  makeHub,
  rawServer,
  runCleanups,
  type ServeOptions,
  serve,
  startHub,
  type TestContract,
  type TestServer,
  tick,
  track,
  until,
} from './helpers.js';

afterEach(runCleanups);

const SNAPSHOT = '{"led":{"on":false},"tick":0,"pins":{}}';
/** Over the default maxEventSize (1 MiB = 1,048,576 characters). */
const BIG = 'x'.repeat(2_000_000);
const both = [['sse'], ['ws']] as const;

type Transport = 'sse' | 'ws';
const options = (transport: Transport) =>
  transport === 'sse' ? ({ transport, eventSource: 'fetch' } as const) : ({ transport, WebSocket } as const);

/**
 * A hub served with SSE keep-alives every `keepAliveMs`, reached through a
 * TCP proxy the test can stall (a link that goes silent without FIN or RST);
 * all three closed after the test.
 */
async function behindProxy(keepAliveMs: number) {
  const hub = makeHub();
  const server = await serve(hub, { http: { sse: { keepAliveMs } } });
  const proxy = await startTcpProxy(server.port);
  cleanups.push(
    () => proxy.close(),
    () => server.kill(),
    () => hub.close(),
  );
  return { hub, proxy };
}

/** Every stream request (SSE GET) or upgrade (WS) the real server received, with the resume id it carried. */
function recordDials(server: TestServer, transport: Transport) {
  const dials: (string | undefined)[] = [];
  const resumeId = (req: IncomingMessage) =>
    (req.headers['last-event-id'] as string | undefined) ??
    new URL(req.url ?? '/', 'http://x').searchParams.get('lastEventId') ??
    undefined;
  if (transport === 'sse') {
    server.server.on('request', (req: IncomingMessage) => {
      if (req.url?.startsWith('/api/events')) dials.push(resumeId(req));
    });
  } else {
    server.server.on('upgrade', (req: IncomingMessage) => dials.push(resumeId(req)));
  }
  return dials;
}

async function start(transport: Transport, opts: ServeOptions = {}) {
  const { hub, server } = await startHub(opts);
  return { hub, server, dials: recordDials(server, transport) };
}

describe.each(both)('%s: an event larger than maxEventSize', (transport) => {
  it('is skipped alone (no reducer depends on it): an error names it, every event after it arrives once, same connection', async () => {
    const { hub, server, dials } = await start(transport);
    const client = connect(server.url, contract, options(transport));
    const t = track(client);
    const snapshots: unknown[] = [];
    client.on('snapshot', (s) => snapshots.push(s));
    await until(() => client.status === 'open' && client.state);
    await tick(hub, 1);
    const big = await hub.publish('pin_change', { pin: BIG, value: 1 });
    // Published at once after it, as in the case reported: none of them may be lost.
    for (const n of [2, 3, 4, 5]) await tick(hub, n);
    await until(() => t.ticks.length === 5);
    expect(t.ticks).toEqual([1, 2, 3, 4, 5]);
    const skipped = t.errors.filter((e) => e.code === 'payload_too_large');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.message).toContain(`id ${big}`);
    expect(skipped[0]?.message).toMatch(/\(id .*, \d{7} characters\)/);
    // The state never depended on it: no reset, no new snapshot, no reconnect.
    expect(t.resets).toEqual([]);
    expect(snapshots).toHaveLength(1);
    expect(dials).toHaveLength(1);
    expect(client.state).toEqual(hub.state);
    // The resume id moved past it: a reconnect would not replay it.
    await tick(hub, 6);
    await until(() => t.ticks.length === 6);
    expect(client.lastEventId).toBe(t.ids.at(-1));
  });

  it('an event the state depends on: reset, the state mended from one side snapshot, every later event once', async () => {
    // The test contract plus a `note` the state counts: a large one is an oversized event the state depends on.
    const notes = defineContract({
      events: { ...contract.events, note: typed<string>() },
      commands: contract.commands,
      state: typed<{ led: { on: boolean }; tick: number; pins: Record<string, 0 | 1>; notes?: number }>(),
      reducers: { ...contract.reducers, note: (state) => ({ ...state, notes: (state.notes ?? 0) + 1 }) },
    });
    const hub = createHub(notes, { state: { led: { on: false }, tick: 0, pins: {} }, history: 1000 });
    const server = await serve(hub);
    cleanups.push(
      () => server.kill(),
      () => hub.close(),
    );
    const dials = recordDials(server, transport);
    const client = connect(server.url, notes, options(transport));
    cleanups.push(() => client.close());
    const ticks: number[] = [];
    const resets: string[] = [];
    client.on('tick', (n) => ticks.push(n));
    client.on('reset', (reason) => resets.push(reason));
    await until(() => client.status === 'open' && client.state);
    await hub.publish('tick', 1);
    await hub.publish('note', 'short');
    await hub.publish('note', BIG);
    for (const n of [2, 3, 4, 5]) await hub.publish('tick', n);
    await until(() => ticks.length === 5 && client.state?.notes === 2);
    expect(ticks).toEqual([1, 2, 3, 4, 5]);
    expect(resets).toEqual(['too_large']);
    expect(client.state).toEqual(hub.state);
    // One main connection the whole time, plus the one side connection for the snapshot.
    expect(dials).toEqual([undefined, undefined]);
    await hub.publish('tick', 6);
    await until(() => ticks.length === 6);
    expect(client.state).toEqual(hub.state);
    expect(client.status).toBe('open');
  });

  it('stops with payload_too_large when the snapshot itself is over the limit', async () => {
    const { hub, server, dials } = await start(transport);
    hub.setState((s) => ({ ...s, pins: { [BIG]: 1 } }));
    const client = connect(server.url, contract, options(transport));
    const t = track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('payload_too_large');
    expect(dials).toHaveLength(1);
    expect(t.statuses.map((s) => s.status)).not.toContain('reconnecting');
  });

  it('a resumed connection whose reset snapshot is too large: one fresh attempt, then a typed stop', async () => {
    const { hub, server, dials } = await start(transport);
    const client = connect(server.url, contract, {
      ...options(transport),
      lastEventId: 'from-another-server-1',
    });
    hub.setState((s) => ({ ...s, pins: { [BIG]: 1 } }));
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('payload_too_large');
    expect(dials).toEqual(['from-another-server-1', undefined]);
  });
});

describe.each(both)('%s: a link that goes silent (no FIN, no RST)', (transport) => {
  it('is noticed by the missing keep-alives, and the client resumes losing nothing', async () => {
    // SSE: the server's keep-alive period is announced in the stream; the
    // client keeps its default (15 s) and must learn 100 ms from the server.
    const { hub, proxy } = await behindProxy(100);
    const client = connect(`http://127.0.0.1:${proxy.port}/api`, contract, {
      ...options(transport),
      // WS: the client drives the pings, so it sets the period.
      ...(transport === 'ws' ? { keepAliveMs: 100 } : {}),
    });
    const t = track(client);
    let snapshots = 0;
    let leds = 0;
    client.on('snapshot', () => snapshots++);
    client.on('led', () => leds++);
    await until(() => client.status === 'open' && client.state);
    await hub.publish('led', { on: true });
    await until(() => leds === 1);

    proxy.stall();
    await until(() => client.status === 'reconnecting', 10_000, 'the client to notice the silent link');
    expect(t.statuses.find((s) => s.status === 'reconnecting')?.error?.code).toBe('timeout');
    const before = snapshots;
    // Published while the link is dead: must arrive after it comes back, in order, once.
    for (let i = 1; i <= 5; i++) await hub.publish('tick', i);
    proxy.resume();
    await until(() => client.status === 'open' && t.ticks.length >= 5, 10_000, 'the client to resume');
    for (let i = 6; i <= 8; i++) await hub.publish('tick', i);
    await until(() => t.ticks.length >= 8);
    expect(t.ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(t.ids).size).toBe(8);
    expect(t.resets).toEqual([]);
    expect(snapshots).toBe(before); // resumed, not re-snapshotted
  });

  it('a healthy idle connection stays open across many keep-alive periods', async () => {
    const { server } = await startHub({ http: { sse: { keepAliveMs: 100 } } });
    let frames = 0;
    // Counts what the server sends while idle: keep-alives (SSE) or pongs (WS).
    class CountingWs extends WebSocket {
      constructor(url: string, protocols: string) {
        super(url, protocols);
        this.addEventListener('message', (e) => {
          if (String(e.data).includes('"type":"pong"')) frames++;
        });
      }
    }
    const countingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!response.body) return response;
      const counted = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            frames += new TextDecoder().decode(chunk).split('event: keepalive').length - 1;
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(counted, { status: response.status, headers: response.headers });
    };
    // Five missed periods (500 ms of silence), not two: a loaded test machine
    // must not pass for a dead link here; the silent-link test uses the default.
    const client =
      transport === 'sse'
        ? connect(server.url, contract, { transport, fetch: countingFetch, missedKeepAlives: 5 })
        : connect(server.url, contract, { transport, WebSocket: CountingWs, keepAliveMs: 100, missedKeepAlives: 5 });
    const t = track(client);
    await until(() => client.status === 'open');
    // Ten periods with no event at all: only the keep-alive traffic keeps it open.
    await until(() => frames >= 10, 10_000, 'ten keep-alive frames');
    expect(t.errors).toEqual([]);
    expect(client.status).toBe('open');
    expect(t.statuses.map((s) => s.status)).toEqual(['open']);
  });

  it("leaves the caller's options object as it was, across keep-alive periods and a reconnect", async () => {
    // SSE: the client adopts the 100 ms the server announces and carries it to
    // the next dial (floored to MIN_DIAL_KEEPALIVE_MS). WS: the client pings
    // every 100 ms; no WS server announces a period, so nothing is adopted.
    const { proxy } = await behindProxy(100);
    const given = { ...options(transport), keepAliveMs: transport === 'ws' ? 100 : undefined };
    const before = { ...given };
    const client = connect(`http://127.0.0.1:${proxy.port}/api`, contract, given);
    const t = track(client);
    await until(() => client.status === 'open' && client.state);
    proxy.stall();
    await until(() => client.status === 'reconnecting', 10_000, 'the client to notice the silent link');
    proxy.resume();
    await until(() => client.status === 'open', 10_000, 'the client to reconnect');
    expect(t.statuses.find((s) => s.status === 'reconnecting')?.error?.code).toBe('timeout');
    expect(given).toStrictEqual(before);
  });
});

/**
 * A server that answers every connection with a snapshot and hangs up at once (SSE: the stream ends,
 * after `retry: 0` with `retryZero`; WS: the socket closes), recording when each arrived, and a client
 * of `transport` for it with `reconnect`. Both are closed after the test.
 */
async function shortLived(
  transport: Transport,
  reconnect: { initialDelayMs?: number; maxDelayMs?: number },
  { retryZero = false, arrivals = [] as number[] } = {},
) {
  let raw: { port: number; close(): Promise<void> };
  if (transport === 'sse') {
    raw = await rawServer((_req, res) => {
      arrivals.push(performance.now());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${retryZero ? 'retry: 0\n\n' : ''}event: snapshot\ndata: ${SNAPSHOT}\n\n`);
    });
  } else {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => WS_PROTOCOL });
    await once(wss, 'listening');
    wss.on('connection', (socket) => {
      arrivals.push(performance.now());
      socket.send(`{"type":"snapshot","id":null,"data":${SNAPSHOT}}`);
      socket.close();
    });
    raw = {
      port: (wss.address() as AddressInfo).port,
      close: () => new Promise<void>((r) => wss.close(() => r())),
    };
  }
  cleanups.push(() => raw.close());
  const base = `http://127.0.0.1:${raw.port}`;
  return transport === 'sse'
    ? connect(base, contract, { eventSource: 'fetch', eventsUrl: `${base}/`, reconnect })
    : connect(base, contract, { transport, WebSocket, wsUrl: `ws://127.0.0.1:${raw.port}/`, reconnect });
}

describe.each(both)('%s: the backoff floor', (transport) => {
  it('no setting (retry: 0, initialDelayMs: 0) makes a client reconnect faster than the floor', async () => {
    const arrivals: number[] = [];
    // SSE: a stream that says `retry: 0` and ends at once, every time: the server that "went away".
    const client = await shortLived(transport, { initialDelayMs: 0, maxDelayMs: 0 }, { retryZero: true, arrivals });
    const t = track(client);
    await until(() => arrivals.length >= 5);
    client.close();
    const delays = t.statuses.filter((s) => s.delayMs !== undefined).map((s) => s.delayMs);
    expect(delays.length).toBeGreaterThanOrEqual(4);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS);
    // And the requests really are that far apart (a lower bound: a busy machine only makes gaps longer).
    for (let i = 1; i < arrivals.length; i++) {
      expect((arrivals[i] ?? 0) - (arrivals[i - 1] ?? 0)).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS - 10);
    }
  });

  it('a server that accepts and closes at once: the backoff keeps growing, it does not start over at every open', async () => {
    // A small cap keeps the test short; what matters is the attempt count the backoff grows from.
    const client = await shortLived(transport, { maxDelayMs: 300 });
    const t = track(client);
    const opened = () => t.statuses.filter((s) => s.status === 'open').length;
    await until(() => opened() >= 4, 20_000, 'four short-lived connections');
    client.close();
    const attempts = t.statuses.filter((s) => s.status === 'reconnecting').map((s) => s.attempt);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
  });
});

describe('SSE: a refused resume id', () => {
  it('the real sse-server answers an id it does not know with reset + snapshot', async () => {
    const { hub, server, dials } = await start('sse');
    await tick(hub, 3);
    const client = connect(server.url, contract, { eventSource: 'fetch', lastEventId: 'no such id' });
    const t = track(client);
    await until(() => client.status === 'open' && client.state?.tick === 3);
    expect(t.resets).toEqual(['history']);
    await tick(hub, 4);
    await until(() => t.ticks.length === 1);
    expect(dials).toEqual(['no such id']);
  });

  it('a server that announces a 1 ms keep-alive cannot make every later dial time out before its answer', async () => {
    const raw = await countingServer((_req, res, n) => {
      const first = n === 1;
      // Later answers take 300 ms to start: a slow link, or a busy server.
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`event: keepalive\ndata: {"intervalMs":1}\n\nevent: snapshot\ndata: ${SNAPSHOT}\n\n`);
          if (first) res.end();
        },
        first ? 0 : 300,
      );
    });
    const client = connect(raw.url, contract, { eventSource: 'fetch', eventsUrl: `${raw.url}/`, missedKeepAlives: 2 });
    track(client);
    let snapshots = 0;
    client.on('snapshot', () => snapshots++);
    await until(() => snapshots >= 2, 10_000, 'a second snapshot after the slow answer');
    expect(raw.requests).toBeGreaterThanOrEqual(2);
  });

  it('a 400 to the resume id: the client drops it and comes back fresh (reset + snapshot)', async () => {
    const seen: (string | undefined)[] = [];
    const raw = await rawServer((req, res) => {
      const id = req.headers['last-event-id'] as string | undefined;
      seen.push(id);
      if (id) {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end('{"error":{"code":"invalid_payload","message":"Last-Event-ID is not an id of this server"}}');
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: keepalive\ndata: {"intervalMs":15000}\n\nid: e-7\nevent: snapshot\ndata: ${SNAPSHOT}\n\n`);
    });
    cleanups.push(() => raw.close());
    const client = connect(raw.url, contract, { lastEventId: 'stale-42' });
    const t = track(client);
    await until(() => client.status === 'open' && client.state);
    expect(seen).toEqual(['stale-42', undefined]);
    expect(t.resets).toEqual(['resume_refused']);
    expect(t.errors.map((e) => e.code)).toEqual(['invalid_payload']);
    expect(client.lastEventId).toBe('e-7');
  });

  it('an id no header can carry (past U+00FF): the client comes back fresh instead of failing the same way forever', async () => {
    const seen: (string | undefined)[] = [];
    const raw = await rawServer((req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A hostile or broken server: an id fetch refuses to send back, then the stream ends.
      res.end(`event: snapshot\ndata: ${SNAPSHOT}\n\nid: \u65e5\u672c\nevent: tick\ndata: ${seen.length}\n\n`);
    });
    cleanups.push(() => raw.close());
    const client = connect(raw.url, contract, {
      eventSource: 'fetch',
      reconnect: { initialDelayMs: 0, maxDelayMs: 0 },
    });
    const t = track(client);
    await until(() => seen.length >= 3, 10_000, 'the server asked again');
    expect(seen.every((id) => id === undefined)).toBe(true);
    expect(t.resets.length).toBeGreaterThanOrEqual(2);
    expect(new Set(t.resets)).toEqual(new Set(['resume_refused']));
    expect(t.ticks.length).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['with a resume id', 'stale-42', ['stale-42', undefined]],
    ['without one', undefined, [undefined, undefined]],
  ])('the same refusal twice in a row stops with a typed error (%s)', async (_, lastEventId, expected) => {
    const seen: (string | undefined)[] = [];
    const raw = await rawServer((req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"invalid_payload","message":"no"}}');
    });
    cleanups.push(() => raw.close());
    const client = connect(raw.url, contract, { lastEventId });
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('invalid_payload');
    expect(seen).toEqual(expected);
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [204, 'closed'],
  ])('a %s to a resume stops at once (not taken for a refused id)', async (status, code) => {
    const raw = await countingServer((_req, res) => res.writeHead(status).end());
    const client = connect(raw.url, contract, { lastEventId: 'e-1' });
    const t = track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe(code);
    expect(raw.requests).toBe(1);
    expect(t.resets).toEqual([]);
  });

  it('a bare 404 (no such stream) is retried once, then stops with not_found', async () => {
    const raw = await countingServer((_req, res) => res.writeHead(404).end('no such page'));
    const client = connect(raw.url, contract);
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('not_found');
    expect(raw.requests).toBe(2);
  });

  it('a 503 is not a refusal that repeats: it is retried with backoff', async () => {
    const raw = await countingServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"too_many_clients","message":"full"}}');
    });
    const client = connect(raw.url, contract, { reconnect: { maxDelayMs: 300 } });
    track(client);
    await until(() => raw.requests >= 3);
    expect(client.status).toBe('reconnecting');
  });
});

describe('WS: a refused resume id', () => {
  it('the real ws-server refuses an unusable id: the client drops it and comes back fresh', async () => {
    const { hub, server, dials } = await start('ws');
    await tick(hub, 3);
    const bad = 'x'.repeat(300); // longer than any id the server accepts
    const client = connect(server.url, contract, { transport: 'ws', WebSocket, lastEventId: bad });
    const t = track(client);
    await until(() => client.status === 'open' && client.state?.tick === 3);
    // Refused (today: HTTP 400 before the upgrade) → one fresh attempt; or
    // taken as foreign → reset + snapshot on the first. Never more.
    expect(dials[0]).toBe(bad);
    expect(dials.length).toBeLessThanOrEqual(2);
    expect(t.resets).toHaveLength(1);
    await tick(hub, 4);
    await until(() => t.ticks.length === 1);
  });

  /**
   * A real `ws` server that refuses every resume with an `error` envelope, the way a server says it after the
   * upgrade, and a client that dials it resuming from `stale-42`.
   */
  async function refusingServer(refuseFresh: boolean) {
    const seen: (string | undefined)[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => WS_PROTOCOL });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((r) => wss.close(r)));
    wss.on('connection', (socket, req) => {
      const id = new URL(req.url ?? '/', 'http://x').searchParams.get('lastEventId') ?? undefined;
      seen.push(id);
      if (id || refuseFresh) {
        socket.send('{"type":"error","error":{"code":"invalid_payload","message":"unknown lastEventId"}}');
        socket.close(1007, 'invalid_payload');
        return;
      }
      socket.send(`{"type":"snapshot","id":"e-9","data":${SNAPSHOT}}`);
    });
    const { port } = wss.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}`, contract, {
      transport: 'ws',
      WebSocket,
      wsUrl: `ws://127.0.0.1:${port}/`,
      lastEventId: 'stale-42',
    });
    return { seen, client };
  }

  it('an error envelope refusing the resume: the client drops the id and comes back fresh', async () => {
    const { seen, client } = await refusingServer(false);
    const t = track(client);
    await until(() => client.status === 'open' && client.state);
    expect(seen).toEqual(['stale-42', undefined]);
    expect(t.resets).toEqual(['resume_refused']);
    expect(client.lastEventId).toBe('e-9');
  });

  it('the same refusal twice in a row stops with a typed error', async () => {
    const { seen, client } = await refusingServer(true);
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('invalid_payload');
    expect(seen).toEqual(['stale-42', undefined]);
  });

  it('a 401 to a resume stops at once (not taken for a refused id)', async () => {
    const { server, dials } = await start('ws', { ws: { authorize: () => false } });
    const client = connect(server.url, contract, { transport: 'ws', WebSocket, lastEventId: 'e-1' });
    const t = track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('unauthorized');
    expect(dials).toEqual(['e-1']);
    expect(t.resets).toEqual([]);
  });

  it('an upgrade to a path nobody serves: not_found, once retried, then a stop', async () => {
    // Not start(): its recording 'upgrade' listener would make the server leave unserved paths to it.
    const { server } = await startHub();
    const client = connect(server.url, contract, {
      transport: 'ws',
      WebSocket,
      wsUrl: `ws://127.0.0.1:${server.port}/nope`,
    });
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('not_found');
  });

  it('an upgrade refused with the same HTTP 400 twice stops (the status `ws` reports)', async () => {
    let upgrades = 0;
    const raw = await rawServer(() => undefined);
    raw.server.on('upgrade', (_req, socket) => {
      upgrades++;
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    cleanups.push(() => raw.close());
    const client: BoardcastClient<TestContract> = connect(raw.url, contract, {
      transport: 'ws',
      WebSocket,
      wsUrl: `ws://127.0.0.1:${raw.port}/`,
    });
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('invalid_payload');
    expect(upgrades).toBe(2);
  });
});
