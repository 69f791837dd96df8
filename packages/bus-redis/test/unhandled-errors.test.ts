/**
 * Without an `error` listener, a Redis that is away is reported as one line
 * when the bus degrades and one when it is back — not a stack trace per
 * reconnect attempt of each of the bus's three connections.
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisBus } from '../src/index.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe.skipIf(!redisServerPath)('RedisBus without an error listener', () => {
  it('prints one line per status change while Redis is away, however many reconnect attempts', async () => {
    const printed: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      printed.push(args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' '));
    });
    // A "Redis" that accepts and drops every connection: each attempt fails at once.
    let attempts = 0;
    const sockets = new Set<Socket>();
    const dropper = createServer((socket) => {
      attempts++;
      sockets.add(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const address = dropper.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const bus = new RedisBus({ redis: `redis://127.0.0.1:${port}`, name: 'quiet' });
    cleanups.push(() => bus.close());
    await eventually(() => expect(attempts).toBeGreaterThanOrEqual(12), 30_000);
    expect(bus.status).toBe('degraded');
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^\[boardcast\] redis bus degraded \(redis( reader| subscriber)?: .*\); reconnecting/);
    expect(printed[0]).not.toContain('\n');
    await bus.close();
    await new Promise<void>((resolve) => dropper.close(() => resolve()));
  });

  it('says once when it is back, and once again when Redis goes away again', async () => {
    const printed: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
    const redis: RedisProcess = await startRedis();
    cleanups.push(() => redis.stop());
    const bus = new RedisBus({ redis: redis.url, name: 'quiet' });
    cleanups.push(() => bus.close());
    await bus.ready;
    await eventually(() => expect(bus.status).toBe('ok'));
    expect(printed).toEqual([]);
    await redis.kill();
    await eventually(() => expect(bus.status).toBe('degraded'));
    // Let it retry a few times.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(printed).toHaveLength(1);
    await redis.start();
    await eventually(() => expect(bus.status).toBe('ok'), 20_000);
    expect(printed).toHaveLength(2);
    expect(printed[1]).toBe('[boardcast] redis bus ok: every connection is ready again');
    await redis.kill();
    await eventually(() => expect(printed).toHaveLength(3));
    expect(printed[2]).toMatch(/^\[boardcast\] redis bus degraded/);
  });
});
