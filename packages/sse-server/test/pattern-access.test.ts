import { accessTable } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { channelFleet, type FleetHub } from '../../../test-support/channel-fleet.js';
import { type BoardcastHttp, boardcastHttp } from '../src/index.js';
import { listen, openStream, type TestServer, waitFor } from './helpers.js';

// Issue 22 over a real SSE stream: a named pattern's every matching channel,
// including ones that appear later, passes the viewer's access check. bob
// holds `board-*` and may see board-1 and board-3 only; board-2 exists when
// he connects, board-3 and board-4 appear later. Nothing of board-2 or
// board-4 is ever written on his stream (not even a frame naming them);
// board-3 starts with its snapshot and then its events, each once.

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: FleetHub | undefined;
const streams: { close(): void }[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await api?.close();
  await hub?.close();
  await server?.close();
  server = api = hub = undefined;
});

async function serve() {
  const access = accessTable({ bob: { see: ['board-1', 'board-3'] }, alice: { see: ['*'] } });
  hub = channelFleet({ access }).hub;
  // The user is the `x-user` header (a test stand-in for a session).
  api = boardcastHttp(hub, { base: '/api', authorize: (request) => request.header('x-user') ?? false });
  server = await listen(api.node);
  return { hub, access, url: server.url };
}

async function open(url: string, user: string, init: RequestInit = {}) {
  const stream = await openStream(url, { 'x-user': user, ...(init.headers as Record<string, string>) }, init);
  streams.push(stream);
  return stream;
}

type Stream = Awaited<ReturnType<typeof open>>;

/** Every message whose data names `channel` anywhere. */
const naming = (stream: Stream, channel: string) => stream.messages.filter((m) => m.data.includes(`"${channel}"`));

/** `channel` folded as a mirror would: its one snapshot, then each `tick` (count, last value). */
function folded(stream: Stream, channel: string): { ticks: number; last: number } | undefined {
  let state: { ticks: number; last: number } | undefined;
  for (const m of stream.messages) {
    const d = JSON.parse(m.data) as { channel?: string; data?: unknown; state?: unknown };
    if (d.channel !== channel) continue;
    if (m.event === 'snapshot') {
      if (state !== undefined) throw new Error(`second snapshot of ${channel}`);
      state = d.state as { ticks: number; last: number };
    } else if (m.event === 'tick') {
      if (state === undefined) throw new Error(`event of ${channel} before its snapshot`);
      state = { ticks: state.ticks + 1, last: d.data as number };
    } else throw new Error(`unexpected ${m.event} message for ${channel}`);
  }
  return state;
}

describe('SSE: a pattern subscription and the access policy', () => {
  for (const how of ['in the query', 'in the request body']) {
    it(`${how}: a channel bob may not see is never written, now or when it appears; one he may see is`, async () => {
      const { hub, url } = await serve();
      await hub.channel('board-1').publish('tick', 1);
      await hub.channel('board-2').publish('tick', 20);
      const bob =
        how === 'in the query'
          ? await open(`${url}/api/events?channels=board-*`, 'bob')
          : await open(`${url}/api/events`, 'bob', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ channels: ['board-*'] }),
            });
      expect(bob.response.status).toBe(200);
      // alice sees everything through the same pattern: the events below are really published.
      const alice = await open(`${url}/api/events?channels=board-*`, 'alice');
      await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');

      await hub.channel('board-4').publish('tick', 40);
      await hub.channel('board-3').publish('tick', 3);
      await hub.channel('board-4').publish('tick', 41);
      await hub.channel('board-3').publish('tick', 4);
      await hub.channel('board-2').publish('tick', 21);
      await hub.channel('board-1').publish('tick', 2);
      // One stream is written in id order: once board-1's 2 is here, everything before it is too.
      await waitFor(() => folded(bob, 'board-1')?.last === 2, 'bob: board-1 event 2');
      await waitFor(() => folded(alice, 'board-1')?.last === 2, 'alice: board-1 event 2');

      expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 2 });
      expect(folded(bob, 'board-3')).toEqual({ ticks: 2, last: 4 });
      expect(naming(bob, 'board-2')).toEqual([]);
      expect(naming(bob, 'board-4')).toEqual([]);
      expect(folded(alice, 'board-2')).toEqual({ ticks: 2, last: 21 });
      expect(folded(alice, 'board-4')).toEqual({ ticks: 2, last: 41 });
      expect(folded(alice, 'board-3')).toEqual({ ticks: 2, last: 4 });
    });
  }

  it('a channel refused after a rights change is not added when it appears, and its events never arrive', async () => {
    const { hub, access, url } = await serve();
    await hub.channel('board-1').publish('tick', 0);
    const bob = await open(`${url}/api/events?channels=board-*`, 'bob');
    await waitFor(() => folded(bob, 'board-1') !== undefined, 'bob: board-1 snapshot');
    // Before the change bob may see board-3: the change, not the table, keeps it out.
    access.set('bob', { see: ['board-1'] });
    await hub.invalidateAccess('bob');
    await hub.channel('board-3').publish('tick', 3);
    await hub.channel('board-1').publish('tick', 1);
    await waitFor(() => folded(bob, 'board-1')?.last === 1, 'bob: board-1 event 1');
    expect(folded(bob, 'board-1')).toEqual({ ticks: 2, last: 1 });
    expect(naming(bob, 'board-3')).toEqual([]);
  });
});
