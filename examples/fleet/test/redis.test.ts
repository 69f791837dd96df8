// Two fleet instances on one real redis-server, the boards split between
// them (`--first-board`): each instance's directory lists every board with
// its status, a command sent to one instance for a board of the other is run
// where the board is, and a board going offline is offline on both.
import { beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../../../test-support/redis-server.js';
import { keepForSuite } from '../../../test-support/suite-teardown.js';
import { redisServerPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { type Fleet, startFleet } from '../src/server.js';

describe.skipIf(!redisServerPath)('fleet on Redis: two instances, one fleet', () => {
  const keep = keepForSuite();
  let redis: RedisProcess;
  let a: Fleet;
  let b: Fleet;

  const directory = async (fleet: Fleet) =>
    (
      (await (await fetch(`http://127.0.0.1:${fleet.port}/api/directory?limit=1000`)).json()) as {
        entries: { id: string; status?: string }[];
      }
    ).entries;

  beforeAll(async () => {
    redis = keep(await startRedis(), (started) => started.stop());
    const common = { port: 0, host: '127.0.0.1', log: false, redis: redis.url, inputEveryMs: 0 } as const;
    a = keep(await startFleet({ ...common, boards: 3, firstBoard: 1 }));
    b = keep(await startFleet({ ...common, boards: 3, firstBoard: 4 }));
  }, 60_000);

  it('each instance lists all six boards, online', async () => {
    for (const fleet of [a, b]) {
      await waitFor(
        async () => {
          const entries = await directory(fleet);
          return entries.length === 6 && entries.every((e) => e.status === 'online');
        },
        'six boards online',
        30_000,
      );
    }
    expect([...a.boards.keys()]).toEqual(['board-1', 'board-2', 'board-3']);
    expect([...b.boards.keys()]).toEqual(['board-4', 'board-5', 'board-6']);
  }, 60_000);

  it("a command sent to one instance for the other's board is run where the board is", async () => {
    const response = await fetch(`http://127.0.0.1:${a.port}/api/commands/led?channel=board-5`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ state: 'on' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ on: true });
    expect(await b.boards.get('board-5')?.digitalRead(5)).toBe(1);
    // Both instances fold the board's `led` event into its channel's state.
    await waitFor(() => a.hub.channel('board-5').state.led.on, "instance A's state", 30_000);
    expect(b.hub.channel('board-5').state.led.on).toBe(true);
  }, 60_000);

  it('a board going offline on one instance is offline in the other one', async () => {
    b.boards.get('board-6')?.goOffline();
    await waitFor(
      async () => (await directory(a)).find((e) => e.id === 'board-6')?.status === 'offline',
      'offline on A',
      30_000,
    );
    await waitFor(() => a.hub.channel('board-6').state.board.status === 'offline', "offline in A's state", 30_000);
    b.boards.get('board-6')?.goOnline();
  }, 60_000);
});
