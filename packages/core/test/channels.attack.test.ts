import { describe, expect, it } from 'vitest';
import { createHub, defineContract, typed } from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';

const contract = defineContract({
  events: { tick: typed<number>() },
  commands: {},
  state: typed<{ ticks: number }>(),
  reducers: { tick: (state, n) => ({ ticks: state.ticks + n }) },
});

interface Frame {
  type: string;
  channel?: string;
  error?: { code: string };
}

function client() {
  const frames: Frame[] = [];
  const sink: HubSink = {
    snapshot: (s) => frames.push(JSON.parse(s.ws) as Frame),
    event: (e: WireFrame) => frames.push(JSON.parse(e.ws) as Frame),
    reset: (reason) => frames.push({ type: 'reset', channel: reason }),
  };
  return { sink, frames };
}

describe('channels under attack', () => {
  // Found by poking the fleet over WebSocket: holding board-1..3, `subscribe ["board-*"]` then
  // `unsubscribe ["board-*"]`, 3,400 times in 2.6 s, left bob refused `too_many_channels` on
  // every new stream for the life of the process. A pattern re-added the channels it matched that
  // the connection already held (and a pattern already held was admitted again): each counted
  // again against the principal (never released), got a second snapshot, and was reported as `added`.
  it('a pattern matching channels already held does not re-add them, and cannot exhaust the per-principal bound', async () => {
    const hub = createHub(contract, {
      state: { ticks: 0 },
      access: { canSee: () => true },
      maxSubscriptionsPerPrincipal: 10,
    });
    for (const id of ['board-1', 'board-2', 'board-3']) hub.channel(id);
    const c = client();
    const conn = hub.connect({ channels: ['board-1', 'board-2', 'board-3'], principal: 'bob' }, c.sink);
    const before = c.frames.filter((f) => f.type === 'snapshot').length;
    for (let i = 0; i < 20; i++) {
      const result = await conn.add(['board-*']);
      expect(result).toEqual({ added: ['board-*'], refused: [] });
      // A pattern already held is not admitted (and counted) a second time either.
      expect(await conn.add(['board-*'])).toEqual({ added: [], refused: [] });
      conn.remove(['board-*']);
    }
    expect(c.frames.filter((f) => f.type === 'snapshot').length).toBe(before);
    conn.close();
    const next = client();
    hub.connect({ channels: ['board-1', 'board-2', 'board-3'], principal: 'bob' }, next.sink);
    expect(next.frames.filter((f) => f.type === 'forbidden')).toEqual([]);
  });
});
