import { encodeWsSnapshot } from '@boardcast/core/wire';
import { WebSocket as MockWebSocket, Server } from 'mock-socket';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MIN_DIAL_KEEPALIVE_MS, watchdog } from '../src/backoff.js';
import { backoffDelay, connect, MIN_RETRY_DELAY_MS, type StatusChange, type WebSocketClass } from '../src/index.js';
import { contract } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('backoffDelay (full jitter above a floor)', () => {
  it('stays within [floor, min(max, base·2^attempt)) for any random value', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const window = Math.min(30_000, 1000 * 2 ** attempt);
      for (const r of [0, 0.25, 0.5, 0.999_999]) {
        const delay = backoffDelay(attempt, 1000, 30_000, () => r);
        expect(delay).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS);
        expect(delay).toBeLessThan(window);
        expect(delay).toBe(Math.floor(MIN_RETRY_DELAY_MS + r * (window - MIN_RETRY_DELAY_MS)));
      }
    }
  });

  it('never goes below the floor, whatever the base (retry: 0) or the ceiling says', () => {
    expect(MIN_RETRY_DELAY_MS).toBe(250);
    for (const [base, max] of [
      [0, 30_000],
      [1, 30_000],
      [-5, 30_000],
      [Number.NaN, 30_000],
      [1000, 0],
      [0, 0],
    ] as const) {
      for (let attempt = 0; attempt < 40; attempt++) {
        for (const r of [0, 0.5, 0.999_999]) {
          expect(backoffDelay(attempt, base, max, () => r)).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS);
        }
      }
    }
    // The window still doubles from the floor: retry: 0 backs off like a base of 250 ms.
    expect(backoffDelay(3, 0, 30_000, () => 0.999_999)).toBe(1999);
  });
});

describe('watchdog (liveness of one connection attempt, fake timers)', () => {
  function watch(keep: { keepAliveMs?: number; missedKeepAlives?: number }) {
    vi.useFakeTimers();
    const deaths: number[] = [];
    const dog = watchdog(keep, (silentMs) => deaths.push(silentMs));
    return { dog, deaths };
  }

  it('is dead after missedKeepAlives silent periods (defaults: 15 s, 2), counted from the last beat', async () => {
    const { dog, deaths } = watch({});
    await vi.advanceTimersByTimeAsync(29_999);
    expect(deaths).toEqual([]);
    dog.beat(); // a frame arrived: the silence starts over
    await vi.advanceTimersByTimeAsync(29_999);
    expect(deaths).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(deaths).toEqual([30_000]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(deaths).toEqual([30_000]); // once
  });

  it('stop() ends the check', async () => {
    const { dog, deaths } = watch({ keepAliveMs: 100, missedKeepAlives: 3 });
    await vi.advanceTimersByTimeAsync(299);
    dog.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(deaths).toEqual([]);
  });

  it('adopts a period the server announces and keeps it, floored, for the next attempts', async () => {
    const keep = { keepAliveMs: 15_000, missedKeepAlives: 2 };
    const { dog, deaths } = watch(keep);
    dog.beat(20);
    // This attempt uses the announced period as it is …
    await vi.advanceTimersByTimeAsync(39);
    expect(deaths).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(deaths).toEqual([40]);
    // … the next ones at least MIN_DIAL_KEEPALIVE_MS, so a first byte has time to come.
    expect(keep.keepAliveMs).toBe(MIN_DIAL_KEEPALIVE_MS);
    dog.beat(4000);
    expect(keep.keepAliveMs).toBe(4000);
  });

  it("a period of 0 (the server sends no more keep-alives) stops this attempt's check but keeps the last period", async () => {
    const keep = { keepAliveMs: 500, missedKeepAlives: 2 };
    const { dog, deaths } = watch(keep);
    dog.beat(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(deaths).toEqual([]);
    expect(keep.keepAliveMs).toBe(500);
    dog.beat(); // later frames do not restart it either
    await vi.advanceTimersByTimeAsync(60_000);
    expect(deaths).toEqual([]);
  });

  it('ignores a negative or non-number period: the current one stays, for this attempt and the next', async () => {
    for (const bad of [-1, -15_000, '100', Number.NaN, null]) {
      const keep = { keepAliveMs: 300, missedKeepAlives: 2 };
      const { dog, deaths } = watch(keep);
      await vi.advanceTimersByTimeAsync(500);
      dog.beat(bad); // still a beat: the silence starts over
      expect(keep.keepAliveMs).toBe(300);
      await vi.advanceTimersByTimeAsync(599);
      expect(deaths).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(deaths).toEqual([600]);
      vi.useRealTimers();
    }
  });

  it('clamps a limit past 2^31-1 ms, which a timer would otherwise fire at once', async () => {
    const { deaths } = watch({ keepAliveMs: 2 ** 31, missedKeepAlives: 2 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(deaths).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1 - 60_000);
    expect(deaths).toEqual([2 ** 32]);
  });

  it('missedKeepAlives 0 never declares the link dead', async () => {
    const { dog, deaths } = watch({ keepAliveMs: 10, missedKeepAlives: 0 });
    dog.beat(10);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(deaths).toEqual([]);
  });
});

describe('client reconnect schedule (fake timers, mock-socket with nothing listening)', () => {
  it('waits a jittered, doubling, capped delay before each attempt and stops after maxAttempts', async () => {
    vi.useFakeTimers();
    const randoms = [0.5, 0.9, 0.1, 0.99, 0.75, 0.3];
    vi.spyOn(Math, 'random').mockImplementation(() => randoms.shift() ?? 0);
    let dials = 0;
    class Counting extends MockWebSocket {
      constructor(url: string, protocols: string) {
        dials++;
        super(url, protocols);
      }
    }
    const client = connect('http://127.0.0.1:1/api', contract, {
      transport: 'ws',
      WebSocket: Counting as unknown as WebSocketClass,
      missedKeepAlives: 0,
      reconnect: { initialDelayMs: 300, maxDelayMs: 1000, maxAttempts: 6 },
    });
    const changes: StatusChange[] = [];
    client.onStatus((c) => changes.push(c));
    client.on('error', () => undefined);

    // floor(250 + r · (min(1000, 300·2^n) − 250))
    const expected = [275, 565, 325, 992, 812, 475];
    for (let n = 0; n < expected.length; n++) {
      // Step until mock-socket reports the failed connect and a retry is scheduled.
      const before = changes.length;
      for (let ms = 0; changes.length === before && ms < 100; ms++) await vi.advanceTimersByTimeAsync(1);
      const last = changes.at(-1);
      expect(last).toMatchObject({ status: 'reconnecting', attempt: n + 1, delayMs: expected[n] });
      expect(dials).toBe(n + 1);
      await vi.advanceTimersByTimeAsync(Math.max(0, (expected[n] ?? 0) - 1));
      expect(dials).toBe(n + 1); // not one millisecond early
      await vi.advanceTimersByTimeAsync(1);
      expect(dials).toBe(n + 2);
    }
    await vi.advanceTimersByTimeAsync(20);
    expect(client.status).toBe('closed');
    expect(client.error?.code).toBe('network_error');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(dials).toBe(7);
  });
});

describe('WS edge cases a real server does not produce (mock-socket)', () => {
  it('survives malformed frames and results for unknown ids, reporting them as errors', async () => {
    const url = 'ws://boardcast.test/api/ws';
    const server = new Server(url);
    server.on('connection', (socket) => {
      socket.send('{"type":"snapshot","id":"e-1","data":{"led":{"on":true},"tick":1,"pins":{}}}');
      socket.send('not json');
      socket.send('{"type":"mystery"}');
      socket.send('{"type":"result","id":999,"ok":true,"data":1}');
      socket.send('{"type":"event","event":"tick","id":"e-2","data":2}');
    });
    const client = connect('http://boardcast.test/api', contract, {
      transport: 'ws',
      WebSocket: MockWebSocket as unknown as WebSocketClass,
      missedKeepAlives: 0,
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    try {
      await vi.waitFor(() => expect(client.state?.tick).toBe(2));
      expect(errors).toEqual(['invalid_payload', 'invalid_payload']);
      expect(client.status).toBe('open');
      expect(client.lastEventId).toBe('e-2');
    } finally {
      client.close();
      server.stop();
    }
  });
});

describe('WS keep-alive schedule (fake timers, mock-socket server that never answers pings)', () => {
  async function pingsAfter(ms: number, options: { keepAliveMs?: number; missedKeepAlives?: number }) {
    vi.useFakeTimers();
    const url = 'ws://keepalive.test/api/ws';
    const server = new Server(url);
    let pings = 0;
    server.on('connection', (socket) => {
      // As ws-server does: the snapshot first (the client is open once the server took the socket), then silence.
      socket.send(encodeWsSnapshot('{"led":{"on":false},"tick":0,"pins":{}}', '1'));
      socket.on('message', (data) => {
        if (String(data).includes('"ping"')) pings++;
      });
    });
    const client = connect('http://keepalive.test/api', contract, {
      transport: 'ws',
      WebSocket: MockWebSocket as unknown as WebSocketClass,
      reconnect: false,
      ...options,
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    for (let i = 0; i < 100 && client.status !== 'open'; i++) await vi.advanceTimersByTimeAsync(1);
    expect(client.status).toBe('open');
    await vi.advanceTimersByTimeAsync(ms);
    const result = { pings, status: client.status, errors };
    client.close();
    server.stop();
    return result;
  }

  it('pings at open, then every keepAliveMs, and gives up after missedKeepAlives silent periods (defaults: 15 s, 2)', async () => {
    // The ping at open (t = 0), then one at 15 s.
    expect(await pingsAfter(29_000, {})).toEqual({ pings: 2, status: 'open', errors: [] });
    // Nothing answered since the snapshot just after the open at t = 0: dead 30 s after that
    // snapshot, a moment after the ping due at 30 s went out.
    expect(await pingsAfter(31_000, {})).toEqual({ pings: 3, status: 'closed', errors: ['timeout'] });
  });

  it('a period of 0 or missedKeepAlives 0 sends only the ping at open, and never times out', async () => {
    expect(await pingsAfter(60_000, { keepAliveMs: 0 })).toEqual({ pings: 1, status: 'open', errors: [] });
    expect(await pingsAfter(60_000, { missedKeepAlives: 0 })).toEqual({ pings: 1, status: 'open', errors: [] });
  });
});
