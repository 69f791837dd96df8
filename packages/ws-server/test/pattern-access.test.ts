import { accessTable } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, type Frame, fleetSetup, TestClient, waitFor } from './helpers.js';

// Issue 22 over a real socket: a named pattern's every matching channel,
// including ones that appear later, passes the viewer's access check. bob
// holds `board-*` and may see board-1 and board-3 only; board-2 exists when
// he subscribes, board-3 and board-4 appear later. Nothing of board-2 or
// board-4 is ever written on his socket (not even a frame naming them);
// board-3 starts with its snapshot and then its events, each once.

afterEach(closeAll);

/** The shared fleet behind a WS endpoint, with this file's access table (the one to change). */
async function fleet() {
  const access = accessTable({
    bob: { see: ['board-1', 'board-3'] },
    alice: { see: ['*'] },
  });
  return { ...(await fleetSetup({ access })), access };
}

/** Every raw frame that names `channel` anywhere (a channel field, a directory entry, an error message). */
const naming = (client: TestClient, channel: string) => client.raw.filter((text) => text.includes(`"${channel}"`));

/** The `tick` values of `channel` folded as a mirror would: its one snapshot's count, then each event. */
function folded(client: TestClient, channel: string): { ticks: number; last: number } | undefined {
  let state: { ticks: number; last: number } | undefined;
  for (const f of client.frames.filter((f: Frame) => f.channel === channel)) {
    if (f.type === 'snapshot') {
      if (state !== undefined) throw new Error(`second snapshot of ${channel}`);
      state = f.data as { ticks: number; last: number };
    } else if (f.type === 'event') {
      if (state === undefined) throw new Error(`event of ${channel} before its snapshot`);
      state = { ticks: state.ticks + 1, last: f.data as number };
    } else throw new Error(`unexpected ${String(f.type)} frame for ${channel}`);
  }
  return state;
}

describe('WebSocket: a pattern subscription and the access policy', () => {
  for (const how of ['in the upgrade URL', 'by a subscribe message']) {
    it(`${how}: a channel bob may not see is never written, now or when it appears; one he may see is`, async () => {
      const env = await fleet();
      const { hub } = env;
      await hub.channel('board-1').publish('tick', 1);
      await hub.channel('board-2').publish('tick', 20);
      let bob: TestClient;
      if (how === 'in the upgrade URL') {
        bob = await TestClient.open(env.url('user=bob&channels=board-*'));
      } else {
        bob = await TestClient.open(env.url('user=bob&channels='));
        bob.send({ type: 'subscribe', id: 'p', channels: ['board-*'] });
        const result = await bob.result('p');
        // The pattern is admitted; board-2 is skipped silently, not reported refused.
        expect(result).toMatchObject({ ok: true, data: { added: ['board-1', 'board-*'], refused: [] } });
      }
      // alice sees everything through the same pattern: the events below are really published.
      const alice = await TestClient.open(env.url('user=alice&channels=board-*'));
      await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');

      await hub.channel('board-4').publish('tick', 40);
      await hub.channel('board-3').publish('tick', 3);
      await hub.channel('board-4').publish('tick', 41);
      await hub.channel('board-3').publish('tick', 4);
      await hub.channel('board-2').publish('tick', 21);
      await hub.channel('board-1').publish('tick', 2);
      // One connection's frames are written in id order: once board-1's 2 is here, the rest came before it.
      await waitFor(() => folded(bob, 'board-1')?.last === 2, 'bob: board-1 event 2');
      await waitFor(() => folded(alice, 'board-1')?.last === 2, 'alice: board-1 event 2');

      expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 2 });
      expect(folded(bob, 'board-3')).toEqual({ ticks: 2, last: 4 });
      expect(naming(bob, 'board-2')).toEqual([]);
      expect(naming(bob, 'board-4')).toEqual([]);
      // The same events did reach a viewer allowed to see them.
      expect(folded(alice, 'board-2')).toEqual({ ticks: 2, last: 21 });
      expect(folded(alice, 'board-4')).toEqual({ ticks: 2, last: 41 });
      expect(folded(alice, 'board-3')).toEqual({ ticks: 2, last: 4 });
      await env.close();
    });
  }

  it('a channel refused after a rights change is not added when it appears, and its events never arrive', async () => {
    const env = await fleet();
    const { hub, access } = env;
    await hub.channel('board-1').publish('tick', 0);
    const bob = await TestClient.open(env.url('user=bob&channels=board-*'));
    await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');
    // Before the change bob may see board-3: the change, not the table, keeps it out.
    access.set('bob', { see: ['board-1'] });
    await hub.invalidateAccess('bob');
    await hub.channel('board-3').publish('tick', 3);
    await hub.channel('board-1').publish('tick', 1);
    await waitFor(() => folded(bob, 'board-1')?.last === 1, 'bob: board-1 event 1');
    expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 1 });
    expect(naming(bob, 'board-3')).toEqual([]);
    await env.close();
  });
});
