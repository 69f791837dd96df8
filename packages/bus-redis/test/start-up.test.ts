/**
 * Start-up (`bus.ready`) when it cannot finish: a bus closed while starting
 * ends it quietly, whatever failed under it; a transaction Redis refused
 * (EXEC answered nil) is a typed `bus_unavailable`.
 */
import { BoardcastError } from '@boardcast/core';
import { type Command, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisBus } from '../src/index.js';
import { redisServerPath } from './redis-server.js';
import { redisPerSuite } from './redis-suite.js';

describe.skipIf(!redisServerPath)('RedisBus start-up', () => {
  const redis = redisPerSuite();

  /**
   * A Redis source whose first duplicate, the bus's command connection, is
   * `cmd`; the bus's other connections are plain ones.
   */
  function sourceWithCommandConnection(cmd: Redis): Redis {
    const source = new Redis(redis.url, { lazyConnect: true });
    let first = true;
    source.duplicate = (override) => {
      if (!first) return new Redis(redis.url, override ?? {});
      first = false;
      return cmd;
    };
    return source;
  }

  /**
   * A command connection whose next MULTI … EXEC Redis aborts: it WATCHes
   * the channel table the bus reads at start-up, then another client
   * writes to that key.
   */
  async function abortingCommandConnection(name: string): Promise<Redis> {
    const cmd = new Redis(redis.url, { maxRetriesPerRequest: null });
    const other = new Redis(redis.url);
    redis.open.push({ close: () => other.quit() });
    await cmd.watch(`{${name}}:channels`);
    await other.sadd(`{${name}}:channels`, 'touched');
    return cmd;
  }

  it('closed at once: ready resolves', async () => {
    const bus = new RedisBus({ redis: redis.url, name: 'closed-at-once' });
    await bus.close();
    await expect(bus.ready).resolves.toBeUndefined();
  });

  it('a channel table transaction Redis aborts: ready rejects with bus_unavailable', async () => {
    const cmd = await abortingCommandConnection('aborted');
    const bus = new RedisBus({ redis: sourceWithCommandConnection(cmd), name: 'aborted' });
    redis.open.push(bus);
    const error = await bus.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BoardcastError);
    expect(error).toMatchObject({
      code: 'bus_unavailable',
      message: 'Redis refused the transaction reading the channels',
    });
  });

  it('closed while that transaction is answered: ready resolves, the refusal is not reported', async () => {
    const cmd = await abortingCommandConnection('aborted-closing');
    const bus = new RedisBus({ redis: sourceWithCommandConnection(cmd), name: 'aborted-closing' });
    const errors: unknown[] = [];
    bus.on('error', (error) => errors.push(error));
    const send = cmd.sendCommand.bind(cmd);
    let closing: Promise<void> | undefined;
    cmd.sendCommand = (command: Command, ...rest) => {
      // Close once EXEC is on its way: the bus is closed by the time Redis answers it.
      if (command.name === 'exec') queueMicrotask(() => (closing = bus.close()));
      return send(command, ...rest);
    };
    await expect(bus.ready).resolves.toBeUndefined();
    expect(closing).toBeDefined();
    await closing;
    expect(errors).toEqual([]);
  });
});
