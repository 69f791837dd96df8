import { WebSocket as MockWebSocket, Server } from 'mock-socket';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, connect, type StatusChange, type WebSocketClass } from '../src/index.js';
import { contract } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('backoffDelay (full jitter)', () => {
  it('stays within [0, min(max, base·2^attempt)) for any random value', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const window = Math.min(30_000, 1000 * 2 ** attempt);
      for (const r of [0, 0.25, 0.5, 0.999_999]) {
        const delay = backoffDelay(attempt, 1000, 30_000, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(window);
        expect(delay).toBe(Math.floor(r * window));
      }
    }
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
      heartbeat: false,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 },
    });
    const changes: StatusChange[] = [];
    client.onStatus((c) => changes.push(c));
    client.on('error', () => undefined);

    const expected = [50, 180, 40, 792, 750, 300]; // floor(r · min(1000, 100·2^n))
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
      heartbeat: false,
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
