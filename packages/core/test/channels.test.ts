import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accessTable,
  type BoardcastError,
  createHub,
  DEFAULT_CHANNEL,
  DIRECTORY,
  defineContract,
  typed,
} from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';
import { ForwardingBus, type Frame, gatedBus, laterSinceBus } from './fixtures.js';

const contract = defineContract({
  events: { led: typed<{ on: boolean }>(), tick: typed<number>() },
  commands: { led: { input: typed<{ on: boolean }>(), result: typed<{ on: boolean }>() } },
  state: typed<{ on: boolean; ticks: number }>(),
  reducers: {
    led: (state, data) => ({ ...state, on: data.on }),
    tick: (state, n) => ({ ...state, ticks: state.ticks + n }),
  },
});
const initial = { on: false, ticks: 0 };

/** A client: records every frame as the WS envelope it is, and folds a mirror per channel as a browser would. */
function client() {
  const frames: Frame[] = [];
  const sse: string[] = [];
  const mirror = new Map<string, { on: boolean; ticks: number }>();
  let position = '';
  let ended: BoardcastError | undefined;
  const fold = (f: Frame) => {
    if (f.type === 'snapshot' && f.channel !== undefined)
      mirror.set(f.channel, f.data as { on: boolean; ticks: number });
    if (f.type === 'event' && f.channel !== undefined && f.channel !== DIRECTORY) {
      const state = mirror.get(f.channel);
      if (!state) throw new Error(`event of ${f.channel} before its snapshot`);
      const reducer = contract.reducers?.[f.event as 'led' | 'tick'] as (s: unknown, d: unknown) => unknown;
      mirror.set(f.channel, reducer(state, f.data) as { on: boolean; ticks: number });
    }
    if (f.type === 'forbidden' && f.channel !== undefined) mirror.delete(f.channel);
  };
  const sink: HubSink = {
    snapshot: (s) => {
      frames.push(JSON.parse(s.ws) as Frame);
      sse.push(s.sse);
    },
    event: (e: WireFrame) => {
      const f = JSON.parse(e.ws) as Frame;
      frames.push(f);
      sse.push(e.sse);
      if (e.id) position = e.id;
      fold(f);
    },
    reset: (reason) => frames.push({ type: 'reset', reason }),
    end: (error) => {
      ended = error;
    },
  };
  return {
    sink,
    frames,
    sse,
    mirror,
    get position() {
      return position;
    },
    get ended() {
      return ended;
    },
    events: (channel?: string) =>
      frames.filter((f) => f.type === 'event' && (channel === undefined || f.channel === channel)),
  };
}

/** A hub with channels `one` and `two`; `two` has ticked 1 then 2, and `cursor` is the id of its first tick. */
async function twoChannels() {
  const hub = createHub(contract, { state: initial });
  const one = hub.channel('one');
  const two = hub.channel('two');
  const cursor = await two.publish('tick', 1);
  await two.publish('tick', 2);
  return { hub, one, two, cursor };
}

function ordinal(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

describe('channels', () => {
  it('a connection that names no channels gets exactly the 0.1 frames of the default channel', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    hub.attach({}, c.sink);
    const id = await hub.publish('led', { on: true });
    await hub.channel('board-2').publish('led', { on: true });
    expect(c.sse).toEqual([
      `id: ${hub.bus.originId}\nevent: snapshot\ndata: {"on":false,"ticks":0}\n\n`,
      `id: ${id}\nevent: led\ndata: {"on":true}\n\n`,
    ]);
    expect(hub.state).toEqual({ on: true, ticks: 0 });
  });

  it('folds state per channel and sends each connection only the channels it holds, tagged', async () => {
    const hub = createHub(contract, { state: initial });
    const a = client();
    hub.connect({ channels: ['board-1'] }, a.sink);
    await hub.channel('board-1').publish('tick', 2);
    await hub.channel('board-2').publish('tick', 5);
    await hub.channel('board-1').publish('led', { on: true });
    expect(hub.channel('board-1').state).toEqual({ on: true, ticks: 2 });
    expect(hub.channel('board-2').state).toEqual({ on: false, ticks: 5 });
    expect(hub.state).toEqual(initial);
    expect(a.frames[0]).toMatchObject({ type: 'snapshot', channel: 'board-1', data: initial });
    expect(a.events().map((f) => [f.channel, f.event, f.data])).toEqual([
      ['board-1', 'tick', 2],
      ['board-1', 'led', { on: true }],
    ]);
    expect(a.sse[1]).toMatch(/^id: \S+\nevent: tick\ndata: \{"channel":"board-1","data":2\}\n\n$/);
    expect(a.mirror.get('board-1')).toEqual(hub.channel('board-1').state);
  });

  it('a channel added mid-stream starts at the head; a resume from the position folds nothing twice', async () => {
    const hub = createHub(contract, { state: initial });
    const busy = hub.channel('busy');
    const quiet = hub.channel('quiet');
    await quiet.publish('tick', 1);
    const a = client();
    const conn = hub.connect({ channels: ['busy'] }, a.sink);
    for (let i = 0; i < 5; i++) await busy.publish('tick', 1);
    await conn.add(['quiet']);
    const snapshot = a.frames.at(-1) as Frame;
    expect(snapshot).toMatchObject({ type: 'snapshot', channel: 'quiet', data: { on: false, ticks: 1 } });
    expect(snapshot.id).toBe(hub.headId);
    await busy.publish('tick', 1);
    await quiet.publish('tick', 10);
    // Reconnect with the last id written: nothing folded twice.
    const b = client();
    b.mirror.set('busy', { ...(a.mirror.get('busy') as { on: boolean; ticks: number }) });
    const lastBeforeLive = a.position;
    await busy.publish('tick', 1);
    await quiet.publish('tick', 100);
    // b holds what a had at `lastBeforeLive`: replay must give exactly the two newer events.
    const mirrorAt = new Map(a.mirror);
    const resumed = client();
    for (const [k, v] of mirrorAt) resumed.mirror.set(k, v);
    // a's mirror already includes the two newest events; rebuild it as of lastBeforeLive.
    resumed.mirror.set('busy', { on: false, ticks: 6 });
    resumed.mirror.set('quiet', { on: false, ticks: 11 });
    hub.connect({ channels: ['busy', 'quiet'], lastEventId: lastBeforeLive }, resumed.sink);
    expect(resumed.frames.filter((f) => f.type !== 'event')).toEqual([]);
    expect(resumed.mirror.get('busy')).toEqual(busy.state);
    expect(resumed.mirror.get('quiet')).toEqual(quiet.state);
  });

  it('ids on one connection only grow, and an added channel with an older `since` catches up without ids', async () => {
    const { hub, one, two, cursor } = await twoChannels();
    const a = client();
    const conn = hub.connect({ channels: ['one'] }, a.sink);
    await one.publish('tick', 1);
    const position = a.position;
    a.mirror.set('two', { on: false, ticks: 1 }); // what the client had at `cursor` (say, from stored history)
    const result = await conn.add([{ channel: 'two', since: cursor }]);
    expect(result).toEqual({ added: ['two'], refused: [] });
    const two2 = a.events('two');
    expect(two2).toEqual([{ type: 'event', channel: 'two', event: 'tick', data: 2 }]);
    expect(a.position).toBe(position);
    await two.publish('tick', 4);
    const ids = a.frames.filter((f) => typeof f.id === 'string').map((f) => ordinal(f.id as string));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
  });

  it('a new connection resuming from L with a channel whose since is older catches that channel up without ids', async () => {
    const { hub, one, two, cursor } = await twoChannels();
    const last = await one.publish('tick', 1);
    const a = client();
    a.mirror.set('one', { on: false, ticks: 1 });
    a.mirror.set('two', { on: false, ticks: 1 });
    hub.connect({ channels: ['one', { channel: 'two', since: cursor }], lastEventId: last }, a.sink);
    expect(a.frames).toEqual([{ type: 'event', channel: 'two', event: 'tick', data: 2 }]);
    expect(a.position).toBe('');
    await two.publish('tick', 3);
    expect(a.position).toBe(hub.headId);
    expect(a.mirror.get('two')).toEqual(two.state);
  });

  it('a quiet channel whose events aged out resumes without a reset; a channel that lost events resets alone', async () => {
    const hub = createHub(contract, { state: initial, history: 3 });
    const quiet = hub.channel('quiet');
    const noisy = hub.channel('noisy');
    await quiet.publish('tick', 1);
    const a = client();
    hub.connect({ channels: ['quiet', 'noisy'] }, a.sink);
    const last = a.position;
    for (let i = 0; i < 10; i++) await noisy.publish('tick', 1);
    const b = client();
    hub.connect({ channels: ['quiet', 'noisy'], lastEventId: last }, b.sink);
    expect(b.frames.map((f) => [f.type, f.channel])).toEqual([
      ['reset', 'noisy'],
      ['snapshot', 'noisy'],
    ]);
    expect((b.frames[1] as Frame).data).toEqual(noisy.state);
  });

  it('waits for an asynchronous bus and loses or repeats nothing published meanwhile', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const bus = gatedBus(gate);
    const hub = createHub(contract, { state: initial, bus });
    const ch = hub.channel('c');
    const from = await ch.publish('tick', 1);
    await ch.publish('tick', 2);
    const a = client();
    a.mirror.set('c', { on: false, ticks: 1 });
    hub.connect({ channels: ['c'], lastEventId: from }, a.sink);
    await ch.publish('tick', 3);
    await ch.publish('tick', 4);
    expect(a.frames).toEqual([]);
    release();
    await gate;
    await new Promise((r) => setTimeout(r, 0));
    expect(a.events('c').map((f) => f.data)).toEqual([2, 3, 4]);
    expect(a.mirror.get('c')).toEqual(ch.state);
  });

  it('a client that leaves while its start is pending is not left subscribed', async () => {
    const bus = laterSinceBus((answer) => new Promise((r) => setTimeout(() => r(answer()), 10)));
    const hub = createHub(contract, { state: initial, bus });
    const from = await hub.channel('c').publish('tick', 1);
    const a = client();
    const conn = hub.connect({ channels: ['c'], lastEventId: from }, a.sink);
    conn.close();
    await new Promise((r) => setTimeout(r, 30));
    await hub.channel('c').publish('tick', 1);
    expect(a.frames).toEqual([]);
    expect(hub.channel('c').metrics.subscribers).toBe(0);
    expect(hub.subscriberCount).toBe(0);
  });

  it('per-viewer rights: no event, state, directory entry or command of a channel the viewer may not see', async () => {
    const access = accessTable({ bob: { see: ['board-1'], control: ['board-1'] } });
    const hub = createHub(contract, { state: initial, access });
    const b1 = hub.channel('board-1');
    const b2 = hub.channel('board-2');
    let ran = 0;
    b2.handle('led', (input) => {
      ran++;
      return input;
    });
    b1.handle('led', (input) => input);
    await b1.describe({ kind: 'esp32', status: 'online' });
    await b2.describe({ kind: 'esp32', status: 'online' });
    const bob = client();
    const conn = hub.connect({ channels: ['board-1', 'board-2', DIRECTORY], principal: 'bob' }, bob.sink);
    expect(bob.frames.find((f) => f.type === 'forbidden')).toMatchObject({
      channel: 'board-2',
      error: { code: 'forbidden' },
    });
    expect(conn.channels).toEqual(['board-1', DIRECTORY]);
    const directory = bob.frames.find((f) => f.type === 'snapshot' && f.channel === DIRECTORY) as Frame;
    expect((directory.data as { entries: { id: string }[] }).entries.map((e) => e.id)).toEqual(['board-1']);
    await b2.publish('tick', 1);
    await b2.describe({ status: 'offline' });
    expect(JSON.stringify(bob.frames)).not.toContain('"tick","id"');
    expect(bob.frames.filter((f) => JSON.stringify(f).includes('board-2')).length).toBe(1); // the forbidden frame only
    const refused = await hub.dispatch('led', { on: true }, { channel: 'board-2', auth: 'bob' });
    expect(refused.ok ? 'ok' : refused.error.code).toBe('forbidden');
    expect(ran).toBe(0);
    const allowed = await hub.dispatch('led', { on: true }, { channel: 'board-1', auth: 'bob' });
    expect(allowed.ok).toBe(true);
    // Revocation: nothing published after the call reaches bob.
    access.set('bob', { see: [] });
    await hub.invalidateAccess('bob');
    await b1.publish('tick', 7);
    const after = bob.frames.slice(bob.frames.findIndex((f) => f.type === 'forbidden' && f.channel === 'board-1'));
    expect(after[0]).toMatchObject({ type: 'forbidden', channel: 'board-1', error: { code: 'forbidden' } });
    // The directory page is sent again: bob now sees no entry.
    expect(after.slice(1)).toEqual([
      { type: 'snapshot', id: expect.any(String), channel: DIRECTORY, data: { entries: [], total: 0 } },
    ]);
    expect(bob.events('board-1').map((f) => f.data)).not.toContain(7);
    expect(conn.channels).toEqual([DIRECTORY]);
  });

  it('a single stream whose viewer may not see the default channel is ended, typed', () => {
    const hub = createHub(contract, { state: initial, access: accessTable({}) });
    const c = client();
    hub.attach({ principal: 'eve' }, c.sink);
    expect(c.ended?.code).toBe('forbidden');
    expect(c.frames).toEqual([]);
  });

  it('commands carry channel and principal, run the channel handler first, and are audited', async () => {
    const hub = createHub(contract, { state: initial });
    const seen: string[] = [];
    hub.handle('led', (input, ctx) => {
      seen.push(`hub:${ctx.channel}:${ctx.principal}`);
      return input;
    });
    hub.channel('b1').handle('led', (input, ctx) => {
      seen.push(`b1:${ctx.channel}:${ctx.principal}`);
      return input;
    });
    const log: string[] = [];
    hub.on('command', (entry) => log.push(`${entry.principal} ${entry.channel} ${entry.command} ${entry.ok}`));
    await hub.call('led', { on: true }, { channel: 'b1', auth: { user: 'ann' } });
    await hub.call('led', { on: true }, { channel: 'b2' });
    await hub.call('led', { on: true });
    expect(seen).toEqual(['b1:b1:ann', 'hub:b2:anonymous', `hub:${DEFAULT_CHANNEL}:anonymous`]);
    expect(log).toEqual(['ann b1 led true', 'anonymous b2 led true', 'anonymous default led true']);
    const bad = await hub.dispatch('led', { on: true }, { channel: 'no/slash' });
    expect(bad.ok ? 'ok' : bad.error.code).toBe('invalid_payload');
  });

  it('bounds: channels per hub, per connection, per principal, and the command rate', async () => {
    const hub = createHub(contract, {
      state: initial,
      access: { canSee: () => true }, // the per-principal bound tells viewers apart by policy
      maxChannels: 3,
      maxChannelsPerConnection: 2,
      maxSubscriptionsPerPrincipal: 3,
      commandsPerSecond: 1,
      commandBurst: 2,
    });
    hub.channel('a');
    hub.channel('b');
    expect(() => hub.channel('c')).toThrow(expect.objectContaining({ code: 'too_many_channels' }));
    expect(() => hub.channel('bad id')).toThrow(expect.objectContaining({ code: 'invalid_payload' }));
    const c = client();
    const conn = hub.connect({ channels: ['x1', 'x2', 'x3'], principal: 'p' }, c.sink);
    expect(c.frames.filter((f) => f.type === 'forbidden').map((f) => [f.channel, f.error?.code])).toEqual([
      ['x3', 'too_many_channels'],
    ]);
    expect(conn.channels).toEqual(['x1', 'x2']);
    const d = client();
    hub.connect({ channels: ['y1', 'y2'], principal: 'p' }, d.sink);
    expect(d.frames.filter((f) => f.type === 'forbidden').map((f) => f.channel)).toEqual(['y2']);
    // Subscribing to channels that do not exist creates none.
    expect(hub.channels).toEqual(['a', 'b', DEFAULT_CHANNEL].sort());
    conn.close();
    expect(hub.channels).toEqual(['a', 'b', DEFAULT_CHANNEL].sort());
    hub.handle('led', (x) => x);
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await hub.dispatch('led', { on: true });
      codes.push(r.ok ? 'ok' : r.error.code);
    }
    expect(codes).toEqual(['ok', 'ok', 'too_many_requests']);
  });

  it('without an access policy every client is anonymous: no shared per-principal bound', () => {
    const hub = createHub(contract, { state: initial, maxSubscriptionsPerPrincipal: 2 });
    const refused: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = client();
      hub.connect({ channels: [`x${i}`] }, c.sink);
      refused.push(...c.frames.filter((f) => f.type === 'forbidden').map((f) => f.channel as string));
    }
    expect(refused).toEqual([]);
  });

  it('the directory changes only when an entry does, is coarse on lastSeen, and removal frees the channel', async () => {
    const hub = createHub(contract, { state: initial, lastSeenIntervalMs: 30_000 });
    const watcher = client();
    hub.connect({ channels: [DIRECTORY] }, watcher.sink);
    const sub = client();
    hub.connect({ channels: ['b1'] }, sub.sink);
    const b1 = hub.channel('b1');
    await b1.describe({ kind: 'esp32', status: 'online', firmware: '1.0' });
    await b1.describe({ kind: 'esp32', status: 'online', firmware: '1.0' });
    await b1.seen(1_000_000);
    await b1.seen(1_010_000);
    await b1.publish('tick', 3);
    expect(watcher.events(DIRECTORY).map((f) => f.data)).toEqual([
      { id: 'b1', kind: 'esp32', status: 'online', firmware: '1.0' },
      { id: 'b1', kind: 'esp32', status: 'online', firmware: '1.0', lastSeen: 1_000_000 },
    ]);
    expect((await hub.directoryPage({ kind: 'esp32' })).total).toBe(1);
    await b1.remove();
    expect(watcher.events(DIRECTORY).at(-1)?.data).toEqual({ id: 'b1', removed: true });
    expect(hub.directory.has('b1')).toBe(false);
    expect(sub.frames.slice(-2).map((f) => [f.type, f.channel, f.reason])).toEqual([
      ['reset', 'b1', 'removed'],
      ['snapshot', 'b1', undefined],
    ]);
    expect(sub.mirror.get('b1')).toEqual(initial);
    expect(hub.bus.channelStats?.('b1')?.events).toBe(0);
  });

  it('a pattern subscription gets the matching channels that exist and those that appear later', async () => {
    const hub = createHub(contract, { state: initial });
    await hub.channel('kitchen-1').publish('tick', 1);
    await hub.channel('garage-1').publish('tick', 1);
    const c = client();
    hub.connect({ channels: ['kitchen-*'] }, c.sink);
    await hub.channel('kitchen-2').publish('tick', 2);
    await hub.channel('garage-2').publish('tick', 2);
    expect([...c.mirror.keys()].sort()).toEqual(['kitchen-1', 'kitchen-2']);
    expect(c.mirror.get('kitchen-2')).toEqual({ on: false, ticks: 2 });
  });

  it('property: random subscribe/unsubscribe while every channel publishes matches a fresh client (fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('pub' as const),
              ch: fc.integer({ min: 0, max: 4 }),
              n: fc.integer({ min: 1, max: 9 }),
            }),
            fc.record({ op: fc.constant('add' as const), ch: fc.integer({ min: 0, max: 4 }) }),
            fc.record({ op: fc.constant('drop' as const), ch: fc.integer({ min: 0, max: 4 }) }),
            fc.record({ op: fc.constant('reconnect' as const) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const hub = createHub(contract, { state: initial, history: 5 });
          let c = client();
          let conn = hub.connect({ channels: ['c0'] }, c.sink);
          const held = new Set(['c0']);
          for (const step of ops) {
            const ch = `c${'ch' in step ? step.ch : 0}`;
            if (step.op === 'pub') void hub.channel(ch).publish('tick', step.n);
            else if (step.op === 'add') {
              void conn.add([ch]);
              held.add(ch);
            } else if (step.op === 'drop') {
              conn.remove([ch]);
              held.delete(ch);
              c.mirror.delete(ch);
            } else {
              const position = c.position;
              const mirror = new Map(c.mirror);
              conn.close();
              c = client();
              for (const [k, v] of mirror) c.mirror.set(k, v);
              conn = hub.connect({ channels: [...held], lastEventId: position || undefined }, c.sink);
            }
          }
          for (const ch of held) {
            expect(c.mirror.get(ch) ?? initial).toEqual(hub.hasChannel(ch) ? hub.channel(ch).state : initial);
          }
          const ids = c.frames.filter((f) => typeof f.id === 'string').map((f) => ordinal(f.id as string));
          expect([...ids].sort((x, y) => x - y)).toEqual(ids);
        },
      ),
      { seed: 22, numRuns: 200 },
    );
  });
});

describe('refusals are cheap (bench: packages/core/bench/refusals.mjs)', () => {
  it('a refused channel is a BoardcastError with its code and message but no captured stack; stacks elsewhere are untouched', async () => {
    const hub = createHub(contract, {
      state: initial,
      maxChannelsPerConnection: 4,
      access: { canSee: (_p: unknown, channel: string) => channel !== 'secret' },
    });
    const a = client();
    const conn = hub.connect({ channels: [], principal: 'p' }, a.sink);
    const result = await conn.add(['secret', 'bad id', 'one', 'two', 'three']);
    expect(result.added).toEqual(['one', 'two']);
    expect(result.refused.map((r) => [r.channel, r.error.code, r.error.message])).toEqual([
      ['secret', 'forbidden', 'channel "secret" is not yours to see'],
      ['bad id', 'invalid_payload', 'invalid channel id "bad id"'],
      ['three', 'too_many_channels', 'a connection may hold 4 channels'],
    ]);
    for (const { error } of result.refused) {
      expect(error.name).toBe('BoardcastError');
      // Building a stack per refused channel was ~90 % of a refusal's cost.
      expect(error.stack ?? '').not.toMatch(/\n\s+at /);
    }
    expect(new Error('after').stack).toMatch(/\n\s+at /);
    await hub.close();
  });
});

describe('adding a channel', () => {
  it('an invalid id or pattern is refused as invalid_payload, quoting at most 40 characters of it', async () => {
    const hub = createHub(contract, { state: initial });
    const connection = hub.connect({ channels: [] }, client().sink);
    const long = `${'x'.repeat(60)} y`;
    const result = await connection.add(['ok', 'a b*', long, 'fine*']);
    expect(result.added).toEqual(['ok', 'fine*']);
    const refused = new Map(result.refused.map((r) => [r.channel, r.error]));
    expect([...refused.keys()].sort()).toEqual(['a b*', long].sort());
    // The pattern's prefix is checked whole, not only its first character.
    expect(refused.get('a b*')?.code).toBe('invalid_payload');
    expect(refused.get(long)?.code).toBe('invalid_payload');
    expect(refused.get(long)?.message).toBe(`invalid channel id ${JSON.stringify('x'.repeat(40))}`);
    await hub.close();
  });

  it('a re-check of rights keeps the channels a connection holds at its bounds (they are not added again)', async () => {
    const hub = createHub(contract, {
      state: initial,
      access: { canSee: () => true },
      maxChannelsPerConnection: 2,
      maxSubscriptionsPerPrincipal: 2,
    });
    const c = client();
    const connection = hub.connect({ channels: ['a', 'b'], principal: 'p' }, c.sink);
    await hub.invalidateAccess();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(c.frames.filter((f) => f.type === 'forbidden')).toEqual([]);
    expect(connection.channels).toEqual(['a', 'b']);
    await hub.close();
  });

  it('on a bus that has no id yet (no origin either), a snapshot carries no id', async () => {
    const hub = createHub(contract, {
      state: initial,
      bus: new (class extends ForwardingBus {
        override get headId() {
          return undefined;
        }
        override get originId() {
          return undefined;
        }
      })(),
    });
    const c = client();
    hub.connect({ channels: ['one'] }, c.sink);
    expect(c.frames.map((f) => [f.type, f.channel, f.id ?? ''])).toEqual([['snapshot', 'one', '']]);
    await hub.close();
  });

  it("the per-viewer bound's refusal says what the bound is", async () => {
    const hub = createHub(contract, {
      state: initial,
      access: { canSee: () => true },
      maxSubscriptionsPerPrincipal: 1,
    });
    hub.connect({ channels: ['a'], principal: 'p' }, client().sink);
    const result = await hub.connect({ channels: [], principal: 'p' }, client().sink).add(['b']);
    expect(result.refused.map((r) => [r.error.code, r.error.message])).toEqual([
      ['too_many_channels', 'a viewer may hold 1 subscriptions'],
    ]);
    await hub.close();
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('policy down');
      },
    ],
    ['rejects', () => Promise.reject(new Error('policy down'))],
  ])('a policy that %s refuses the channel as forbidden and is reported', async (_name, canSee) => {
    const hub = createHub(contract, { state: initial, access: { canSee } });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    const c = client();
    const connection = hub.connect({ channels: [], principal: 'p' }, c.sink);
    const result = await connection.add(['secret']);
    expect(result.added).toEqual([]);
    expect(result.refused.map((r) => [r.channel, r.error.code, r.error.message])).toEqual([
      ['secret', 'forbidden', 'channel "secret" is not yours to see'],
    ]);
    expect(errors).toEqual([[new Error('policy down'), 'access.canSee']]);
    await hub.close();
  });
});

describe('a channel handle', () => {
  it('metrics: its subscribers and the history the bus holds of it; zeros on a bus that keeps no figures', async () => {
    const hub = createHub(contract, { state: initial });
    const one = hub.channel('one');
    hub.connect({ channels: ['one'] }, client().sink);
    await one.publish('tick', 1);
    await one.publish('tick', 2);
    expect(one.metrics.subscribers).toBe(1);
    expect(one.metrics.history.events).toBe(2);
    await hub.close();

    // ForwardingBus has no channelStats: a bus that keeps no figures.
    const plain = createHub(contract, { state: initial, bus: new ForwardingBus() });
    expect(plain.channel('one').metrics).toEqual({
      subscribers: 0,
      history: { events: 0, bytes: 0, evictions: 0 },
    });
    await plain.close();
  });

  it('after remove(), the handle still answers (the initial state, its snapshot, no subscribers) without bringing its channel back', async () => {
    const hub = createHub(contract, { state: initial, maxChannels: 2 });
    const one = hub.channel('one');
    await one.publish('tick', 3);
    await one.remove();
    expect(one.metrics.subscribers).toBe(0);
    expect(one.state).toEqual(initial);
    expect(one.snapshotBody()).toMatchObject({ channel: 'one', state: initial });
    expect(one.state).toEqual(initial);
    expect(hub.hasChannel('one')).toBe(false);
    expect(hub.channels).toEqual([DEFAULT_CHANNEL]);
    // A handler brings it back, within maxChannels like any new channel.
    hub.channel('two');
    expect(() => one.handle('led', (input) => input)).toThrow(/already has 2 channels/);
    expect(hub.hasChannel('one')).toBe(false);
    await hub.close();
  });

  it('describe() and remove() that the bus fails reject, and are reported with what was done', async () => {
    const hub = createHub(contract, {
      state: initial,
      bus: new (class extends ForwardingBus {
        override publish(event: string, data: unknown, json: string, channel?: string) {
          if (event === DIRECTORY) throw new Error('bus down');
          return super.publish(event, data, json, channel);
        }
      })(),
    });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    const one = hub.channel('one');
    await expect(one.describe({ kind: 'esp32' })).rejects.toThrow('bus down');
    await expect(one.remove()).rejects.toThrow('bus down');
    expect(errors).toEqual([
      [new Error('bus down'), 'describe'],
      [new Error('bus down'), 'removeChannel'],
    ]);
    await hub.close();
  });

  it('a connection that drops the directory gets no more of its changes', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    const connection = hub.connect({ channels: [DIRECTORY] }, c.sink);
    await hub.channel('one').describe({ kind: 'esp32' });
    expect(c.events(DIRECTORY)).toHaveLength(1);
    await connection.remove([DIRECTORY]);
    await hub.channel('two').describe({ kind: 'esp32' });
    expect(c.events(DIRECTORY)).toHaveLength(1);
    await hub.close();
  });
});
