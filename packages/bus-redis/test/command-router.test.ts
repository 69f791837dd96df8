import { BoardcastError } from '@boardcast/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Instance, instance } from './fixtures.js';
import { type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

type LedInput = { board: string; state: 'on' | 'off' };
const boardOf = (input: unknown) => (input as LedInput).board;

describe.skipIf(!redisServerPath)('routeCommands: a command reaches the instance its board is attached to', () => {
  let redis: RedisProcess;
  const open: Instance[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const i of open.splice(0)) await i.hub.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** An instance with the boards `boards` attached; `led` runs here for those, elsewhere for the rest. */
  async function withBoards(boards: string[], options: { timeoutMs?: number; hang?: boolean } = {}) {
    const i = await instance(redis.url);
    open.push(i);
    const router = i.bus.routeCommands(i.hub, {
      owns: (_command, input) => boards.includes(boardOf(input)),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    router.handle('led', async ({ board, state }, { signal }) => {
      if (options.hang) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      if (state === 'off' && board === 'broken') throw new BoardcastError('invalid_payload', 'board refuses');
      return { board, on: state === 'on', by: i.bus.instanceId };
    });
    await router.ready;
    return { ...i, router };
  }

  it('returns the result of the instance that owns the board', async () => {
    const a = await withBoards(['a1']);
    const b = await withBoards(['b1', 'broken']);
    // Over a transport, a client of A sends a command for B's board.
    const remote = await a.hub.dispatch('led', { board: 'b1', state: 'on' }, { transport: 'http' });
    expect(remote).toMatchObject({ ok: true, data: { board: 'b1', on: true, by: b.bus.instanceId } });
    expect(remote.ok && remote.json).toBe(JSON.stringify({ board: 'b1', on: true, by: b.bus.instanceId }));
    // A's own board runs locally.
    expect(await a.hub.call('led', { board: 'a1', state: 'off' })).toEqual({
      board: 'a1',
      on: false,
      by: a.bus.instanceId,
    });
    // And the other way round.
    expect(await b.hub.call('led', { board: 'a1', state: 'on' })).toMatchObject({ by: a.bus.instanceId });
  });

  it('passes the owner’s typed error back unchanged', async () => {
    const a = await withBoards([]);
    await withBoards(['broken']);
    const result = await a.hub.dispatch('led', { board: 'broken', state: 'off' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBeInstanceOf(BoardcastError);
    expect(!result.ok && result.error.toJSON()).toEqual({ code: 'invalid_payload', message: 'board refuses' });
  });

  it('answers board_offline when no instance owns the board, and when A is alone', async () => {
    const a = await withBoards(['a1']);
    const alone = await a.hub.dispatch('led', { board: 'nowhere', state: 'on' });
    expect(!alone.ok && alone.error.code).toBe('board_offline');
    await withBoards(['b1']);
    await withBoards(['c1']);
    const none = await a.hub.dispatch('led', { board: 'nowhere', state: 'on' });
    expect(!none.ok && none.error.code).toBe('board_offline');
    expect(!none.ok && none.error.status).toBe(503);
  });

  it('times out when the owner does not answer, and A keeps serving', async () => {
    const a = await withBoards(['a1'], { timeoutMs: 300 });
    await withBoards(['slow'], { hang: true });
    const result = await a.hub.dispatch('led', { board: 'slow', state: 'on' });
    expect(!result.ok && result.error.code).toBe('timeout');
    expect(await a.hub.call('led', { board: 'a1', state: 'on' })).toMatchObject({ on: true });
  });

  it('forward() sends a command this instance never runs; a closed router stops answering', async () => {
    const gateway = await instance(redis.url);
    open.push(gateway);
    const router = gateway.bus.routeCommands(gateway.hub, { owns: () => false });
    router.forward('led');
    await router.ready;
    const b = await withBoards(['b1']);
    expect(await gateway.hub.call('led', { board: 'b1', state: 'on' })).toMatchObject({ by: b.bus.instanceId });
    await b.router.close();
    const after = await gateway.hub.dispatch('led', { board: 'b1', state: 'on' });
    expect(!after.ok && after.error.code).toBe('board_offline');
    // Closing the router removed its hub handler.
    const local = await b.hub.dispatch('led', { board: 'b1', state: 'on' });
    expect(!local.ok && local.error.code).toBe('unknown_command');
  });

  it('rejects a second router on the same bus and bad options', async () => {
    const a = await withBoards([]);
    expect(() => a.bus.routeCommands(a.hub, { owns: () => true })).toThrow(TypeError);
    const b = await instance(redis.url);
    open.push(b);
    expect(() => b.bus.routeCommands(b.hub, { owns: 'yes' as never })).toThrow(TypeError);
    expect(() => b.bus.routeCommands(b.hub, { owns: () => true, timeoutMs: 0 })).toThrow(RangeError);
  });
});
