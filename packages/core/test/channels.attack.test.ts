import { describe, expect, it } from 'vitest';
import { createHub, defineContract, typed } from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';
import { tickContract } from './fixtures.js';

const contract = tickContract;

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

describe('review findings (issue 22)', () => {
  const contract2 = defineContract({
    events: { tick: typed<number>() },
    commands: {},
    state: typed<{ n: number }>(),
    reducers: { tick: (s, n) => ({ n: s.n + n }) },
  });
  const sink = (frames: string[]): HubSink => ({
    snapshot: () => {},
    reset: () => {},
    event: (frame: WireFrame) => frames.push(frame.ws),
  });

  it('an unsubscribe after a subscribe that is still waiting applies after it, not before', async () => {
    let release!: (ok: boolean) => void;
    const gate = new Promise<boolean>((r) => {
      release = r;
    });
    const hub = createHub(contract2, { state: { n: 0 }, access: { canSee: (_p, ch) => (ch === 'b2' ? gate : true) } });
    const frames: string[] = [];
    const conn = hub.connect({ channels: ['b1'] }, sink(frames));
    const added = conn.add(['b2']);
    const removed = conn.remove(['b2']);
    release(true);
    expect((await added).added).toEqual(['b2']);
    expect(await removed).toEqual(['b2']);
    await hub.channel('b2').publish('tick', 1);
    expect(conn.channels).toEqual(['b1']);
    expect(frames.filter((f) => f.includes('"event","channel":"b2"'))).toEqual([]);
  });

  it('an event from the bus for a new channel is folded even at maxChannels (only the program is bounded)', async () => {
    const hub = createHub(contract2, { state: { n: 0 }, maxChannels: 2 });
    hub.channel('a');
    expect(() => hub.channel('b')).toThrow(expect.objectContaining({ code: 'too_many_channels' }));
    hub.bus.publish('tick', 5, '5', 'from-elsewhere'); // another instance's channel, as its bus delivers it
    expect(hub.channel('from-elsewhere').state).toEqual({ n: 5 });
  });

  it('a refused pattern is reported refused, not added', async () => {
    const hub = createHub(contract2, { state: { n: 0 }, maxChannelsPerConnection: 1 });
    const conn = hub.connect({ channels: ['a'] }, sink([]));
    const result = await conn.add(['b*']);
    expect(result.added).toEqual([]);
    expect(result.refused.map((r) => [r.channel, r.error.code])).toEqual([['b*', 'too_many_channels']]);
  });
});
