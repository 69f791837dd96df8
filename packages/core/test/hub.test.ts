import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it, vi } from 'vitest';
import {
  type AccessPolicy,
  BoardcastError,
  type BusStatus,
  createHub,
  DEFAULT_CHANNEL,
  DIRECTORY,
  defineContract,
  MemoryBus,
  type StateCheckpoint,
  typed,
} from '../src/index.js';
import {
  ACCESS_EVENT,
  DIRECTORY_EVENT,
  type EncodedEvent,
  type EncodedSnapshot,
  type HubSink,
  type WireFrame,
} from '../src/wire.js';
import { frameSink, heapAfterGc, initialState, ledContract, tickContract } from './fixtures.js';

function recorder() {
  const log: string[] = [];
  const sink: HubSink = {
    snapshot: (s: EncodedSnapshot) => log.push(`snapshot:${s.json}@${s.headId ?? '-'}`),
    event: (e: EncodedEvent) => log.push(`${e.event}:${e.json}@${e.id}`),
    reset: (reason) => log.push(`reset:${reason}`),
  };
  return { log, sink };
}

function makeHub(history = 100) {
  const hub = createHub(ledContract, { state: initialState, history });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.setState((s) => ({ ...s, led: { on } }));
    hub.publish('led', { on });
    return { on };
  });
  return hub;
}

describe('Hub publish and attach', () => {
  it('sends the snapshot first, then live events, serialized once', async () => {
    const hub = makeHub();
    const a = recorder();
    const b = recorder();
    hub.attach({}, a.sink);
    hub.attach({}, b.sink);
    const id = await hub.publish('time', '12:00');
    expect(a.log).toEqual([
      `snapshot:{"led":{"on":false},"inputs":{"button":0}}@${hub.bus.originId}`,
      `time:"12:00"@${id}`,
    ]);
    expect(b.log).toEqual(a.log);
    // Both clients got the very same frame string object.
    const frames: string[] = [];
    hub.attach({}, { snapshot() {}, reset() {}, event: (e) => frames.push(e.sse) });
    hub.attach({}, { snapshot() {}, reset() {}, event: (e) => frames.push(e.sse) });
    await hub.publish('led', { on: true });
    expect(frames[0]).toBe(frames[1]);
    expect(frames[0]).toMatch(/^id: .+\nevent: led\ndata: {"on":true}\n\n$/);
  });

  it('resumes with exactly the missed events, and filters by name', async () => {
    const hub = makeHub();
    const first = await hub.publish('time', 't1');
    await hub.publish('led', { on: true });
    await hub.publish('time', 't2');
    const r = recorder();
    hub.attach({ lastEventId: first, events: new Set(['time']) }, r.sink);
    await hub.publish('led', { on: false });
    await hub.publish('time', 't3');
    expect(r.log.map((l) => l.split('@')[0])).toEqual(['time:"t2"', 'time:"t3"']);
  });

  it('sends reset then a fresh snapshot carrying the head id when history is exceeded', async () => {
    const hub = makeHub(2);
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    await hub.publish('time', 't3');
    const head = await hub.publish('time', 't4');
    const r = recorder();
    hub.attach({ lastEventId: first }, r.sink);
    expect(r.log).toEqual(['reset:history', `snapshot:${JSON.stringify(initialState)}@${head}`]);
  });

  it('works with an asynchronous bus: nothing lost or duplicated while since() is pending', async () => {
    const hub = makeHub();
    const first = await hub.publish('time', 'a');
    await hub.publish('time', 'b');
    const realSince = hub.bus.since.bind(hub.bus);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Answer since() late, after more events were published.
    vi.spyOn(hub.bus, 'since').mockImplementation((lastId: string) => gate.then(() => realSince(lastId)));
    const r = recorder();
    hub.attach({ lastEventId: first }, r.sink);
    await hub.publish('time', 'c');
    release();
    await gate;
    await new Promise((resolve) => setTimeout(resolve, 0));
    await hub.publish('time', 'd');
    expect(r.log.map((l) => l.split('@')[0])).toEqual(['time:"b"', 'time:"c"', 'time:"d"']);
  });

  it('a throwing sink does not stop other clients', async () => {
    const hub = makeHub();
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    hub.attach(
      {},
      {
        snapshot() {},
        reset() {},
        event() {
          throw new Error('socket gone');
        },
      },
    );
    const r = recorder();
    hub.attach({}, r.sink);
    await hub.publish('time', 'x');
    expect(r.log).toHaveLength(2);
    expect(errors).toEqual(['sink']);
  });

  it('detach removes the subscription', () => {
    const hub = makeHub();
    const detach = hub.attach({}, recorder().sink);
    expect(hub.subscriberCount).toBe(1);
    detach();
    detach();
    expect(hub.subscriberCount).toBe(0);
  });

  it('rejects unknown events and unserializable payloads at runtime', async () => {
    const hub = makeHub();
    await expect(hub.publish('nope' as 'time', 'x')).rejects.toMatchObject({
      code: 'invalid_payload',
      message: 'unknown event "nope"',
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const error = await hub.publish('time', cyclic as unknown as string).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_payload', message: 'event "time" is not JSON-serializable' });
    // The serializer's own error stays reachable for logs.
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('an event without data is sent as null, never as an empty frame', async () => {
    const hub = makeHub();
    const seen: string[] = [];
    hub.subscribe((e) => seen.push(e.json));
    await hub.publish('time', undefined as unknown as string);
    expect(seen).toEqual(['null']);
  });

  it("each event reaches on('publish') and every hub.subscribe listener, even past one that throws; setState reaches neither", async () => {
    const hub = makeHub();
    const published: string[] = [];
    const listened: string[] = [];
    const errors: [unknown, string][] = [];
    hub.on('publish', (e) => published.push(e.event));
    hub.on('error', (error, where) => errors.push([error, where]));
    const boom = new Error('listener bug');
    hub.subscribe(() => {
      throw boom;
    });
    hub.subscribe((e) => listened.push(e.event));
    await hub.publish('time', '12:00');
    await hub.setState((s) => ({ ...s, led: { on: true } }));
    await hub.publish('led', { on: true });
    expect(published).toEqual(['time', 'led']);
    expect(listened).toEqual(['time', 'led']);
    expect(errors).toEqual([
      [boom, 'subscriber'],
      [boom, 'subscriber'],
    ]);
  });

  it('a bus that throws on publish makes the publish reject (not throw) and is reported', async () => {
    const bus = new MemoryBus();
    const failure = new Error('bus down');
    let calls = 0;
    bus.publish = () => {
      calls++;
      throw failure;
    };
    const hub = createHub(ledContract, { state: initialState, bus });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    let result: Promise<string> | undefined;
    expect(() => {
      result = hub.publish('time', 'x');
    }).not.toThrow();
    await expect(result).rejects.toBe(failure);
    expect(errors).toEqual([[failure, 'publish']]);
    // Handed over once: a publish is never retried behind the caller's back.
    expect(calls).toBe(1);
  });
});

/** A Standard Schema that answers asynchronously, when the test says so (`release`), and accepts only numbers. */
function laterSchema() {
  const pending: (() => void)[] = [];
  const schema: StandardSchemaV1<number> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) =>
        new Promise((resolve) => {
          pending.push(() =>
            resolve(typeof value === 'number' ? { value } : { issues: [{ message: 'not a number' }] }),
          );
        }),
    },
  };
  return {
    schema,
    release() {
      for (const answer of pending.splice(0)) answer();
    },
  };
}

describe('Hub event validation', () => {
  function validatedHub(options: { validateEvents?: boolean } = {}) {
    const later = laterSchema();
    const contract = defineContract({
      events: { slow: later.schema, now: typed<number>(), led: ledContract.events.led },
      commands: {},
      state: typed<Record<string, never>>(),
    });
    const bus = new MemoryBus();
    const order: string[] = [];
    bus.subscribe((e) => order.push(`${e.event}:${e.json}`));
    const hub = createHub(contract, { state: {}, bus, validateEvents: options.validateEvents ?? true });
    // The refusals are asserted on the returned promises.
    hub.on('error', () => undefined);
    return { hub, bus, order, later };
  }

  it('is off by default: an event that does not match its schema is published as it is', async () => {
    const { hub, order } = validatedHub({ validateEvents: false });
    await hub.publish('led', { on: 'yes' } as unknown as { on: boolean });
    expect(order).toEqual(['led:{"on":"yes"}']);
  });

  it('a synchronous schema is checked at once: the event is folded before publish returns, and a mismatch names the event', async () => {
    const { hub, order } = validatedHub();
    const pending = hub.publish('led', { on: true });
    expect(order).toEqual(['led:{"on":true}']);
    await pending;
    const error = await hub.publish('led', { on: 'yes' } as unknown as { on: boolean }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_payload' });
    expect((error as Error).message).toMatch(/^event "led": /);
  });

  it('an asynchronous schema keeps the call order: a later publish waits for it, then publishes run at once again', async () => {
    const { hub, order, later } = validatedHub();
    const slow = hub.publish('slow', 1);
    const now = hub.publish('now', 2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(order).toEqual([]);
    later.release();
    await Promise.all([slow, now]);
    expect(order).toEqual(['slow:1', 'now:2']);
    // Nothing waits any more: the next publish is handed to the bus before publish returns.
    const next = hub.publish('now', 3);
    expect(order.at(-1)).toBe('now:3');
    await next;
    // A mismatch found later names the event too.
    const bad = hub.publish('slow', 'x' as unknown as number).catch((e: unknown) => e);
    later.release();
    expect(((await bad) as Error).message).toMatch(/^event "slow": /);
  });

  it('a publish still waiting for its validator when the hub closes is refused, and never reaches the bus', async () => {
    const { hub, bus, order, later } = validatedHub();
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    const slow = hub.publish('slow', 1);
    const closing = hub.close();
    later.release();
    await expect(slow).rejects.toMatchObject({ code: 'closed', message: 'hub is closed' });
    await closing;
    expect(order).toEqual([]);
    expect(bus.headId).toBeUndefined();
  });
});

describe('Hub bus status', () => {
  /** A memory bus that reports its health and whose checkpoint load answers when the test says so. */
  class SlowLoadBus extends MemoryBus {
    status: BusStatus = 'ok';
    readonly #listeners = new Set<(status: BusStatus) => void>();
    readonly loaded: Promise<void>;
    load!: () => void;
    constructor() {
      super();
      this.loaded = new Promise((resolve) => {
        this.load = resolve;
      });
    }
    onStatus(listener: (status: BusStatus) => void) {
      const entry = (status: BusStatus) => listener(status);
      this.#listeners.add(entry);
      return () => this.#listeners.delete(entry);
    }
    set(status: BusStatus): void {
      this.status = status;
      for (const listener of this.#listeners) listener(status);
    }
    async loadState(): Promise<readonly StateCheckpoint[]> {
      await this.loaded;
      return [];
    }
  }

  it('every stream starts with the same status frame, built again only when the status changes', async () => {
    const bus = new SlowLoadBus();
    bus.load();
    const hub = createHub(ledContract, { state: initialState, bus });
    await hub.ready;
    const firsts: WireFrame[] = [];
    // A single stream: the status frame comes as an event, the snapshot apart.
    const open = () => hub.attach({}, { snapshot() {}, reset() {}, event: (e) => firsts.push(e) });
    open();
    open();
    expect(firsts).toHaveLength(2);
    expect(firsts[1]).toBe(firsts[0]);
    bus.set('degraded');
    firsts.length = 0;
    open();
    open();
    expect(firsts[0]?.ws).toBe('{"type":"status","data":{"bus":"degraded"}}');
    expect(firsts[1]).toBe(firsts[0]);
    await hub.close();
  });

  it('a stream opened before the hub loaded hears of a status change once, when it starts', async () => {
    const bus = new SlowLoadBus();
    const hub = createHub(ledContract, { state: initialState, bus });
    const seen: BusStatus[] = [];
    hub.on('busStatus', (status) => seen.push(status));
    const viewer = frameSink();
    hub.attach({}, viewer.sink);
    bus.set('degraded');
    expect(seen).toEqual(['degraded']);
    expect(viewer.frames).toEqual([]);
    bus.load();
    await hub.ready;
    expect(viewer.frames.map((f) => f.type)).toEqual(['status', 'snapshot']);
    expect(viewer.frames[0]).toMatchObject({ data: { bus: 'degraded' } });
    await hub.close();
  });
});

describe('Hub channels', () => {
  it('hands out one handle per channel', () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    expect(hub.channel('one')).toBe(hub.channel('one'));
  });

  it('counts a channel once however many events it gets, and a removed one no longer; the bound names the count', async () => {
    // The default channel counts: two more fit.
    const hub = createHub(tickContract, { state: { ticks: 0 }, maxChannels: 3 });
    for (let i = 0; i < 5; i++) await hub.channel('one').publish('tick', 1);
    await hub.channel('two').describe({ name: 'two' });
    await hub.channel('two').remove();
    expect(hub.channels).toEqual([DEFAULT_CHANNEL, 'one']);
    hub.channel('three');
    expect(() => hub.channel('four')).toThrow(/^this hub already has 3 channels$/);
    await hub.close();
  });

  it('bounds by maxChannels a channel a subscriber is already waiting for, like any new one', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 }, maxChannels: 2 });
    // A client may wait for any id: that must not let the program create it past the bound.
    hub.connect({ channels: ['ghost'] }, frameSink().sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    hub.channel('one');
    expect(() => hub.channel('ghost')).toThrow(/^this hub already has 2 channels$/);
    expect(hub.channels).toEqual([DEFAULT_CHANNEL, 'one']);
    await hub.close();
  });

  it('keeps a channel another subscriber still waits for, and a live channel when its subscriber leaves', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    await hub.channel('live').publish('tick', 2);
    const first = hub.connect({ channels: ['ghost', 'live'] }, frameSink().sink);
    const second = frameSink();
    hub.connect({ channels: ['ghost'] }, second.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    first.close();
    expect(hub.channel('live').state).toEqual({ ticks: 2 });
    await hub.channel('ghost').publish('tick', 1);
    expect(second.frames.at(-1)).toMatchObject({ channel: 'ghost', event: 'tick', data: 1 });
    await hub.close();
  });

  it('forgets a channel that never existed when its last subscriber leaves: made-up ids cost nothing once their clients go', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    // A client may wait for any id; a hub that kept a record per id waited
    // for would grow by some 300 bytes for each, here 20,000 ids, 6 MB or more.
    const before = await heapAfterGc();
    for (let batch = 0; batch < 20; batch++) {
      const connections = [];
      for (let i = 0; i < 1000; i++) {
        connections.push(hub.connect({ channels: [`ghost-${batch}-${i}`] }, frameSink().sink));
      }
      await new Promise((resolve) => setImmediate(resolve));
      for (const connection of connections) connection.close();
    }
    const after = await heapAfterGc();
    expect(hub.subscriberCount).toBe(0);
    expect(hub.channels).toEqual([DEFAULT_CHANNEL]);
    expect(after - before).toBeLessThan(2 * 1024 * 1024);
    await hub.close();
  });

  it('removing the default channel starts its state over, and it still exists', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    await hub.publish('tick', 3);
    await hub.channel(DEFAULT_CHANNEL).describe({ name: 'main' });
    await hub.channel(DEFAULT_CHANNEL).remove();
    expect(hub.state).toEqual({ ticks: 0 });
    expect(hub.hasChannel(DEFAULT_CHANNEL)).toBe(true);
    expect(hub.channels).toEqual([DEFAULT_CHANNEL]);
    await hub.close();
  });

  it('a removed channel keeps the handlers the program registered on it', async () => {
    const hub = createHub(ledContract, { state: initialState });
    hub.channel('board').handle('blink', () => ({ done: true }));
    await hub.channel('board').describe({ name: 'board' });
    await hub.channel('board').remove();
    expect(hub.hasChannel('board')).toBe(false);
    expect(hub.handlesChannel('board', 'blink')).toBe(true);
    await hub.close();
  });

  it('handlesChannel says whether this instance handles a command of a channel itself', () => {
    const hub = createHub(ledContract, { state: initialState });
    expect(hub.handlesChannel('board', 'blink')).toBe(false);
    hub.channel('board').handle('blink', () => ({ done: true }));
    expect(hub.handlesChannel('board', 'blink')).toBe(true);
    expect(hub.handlesChannel('board', 'led')).toBe(false);
    expect(hub.handlesChannel('other', 'blink')).toBe(false);
  });
});

describe('Hub directory', () => {
  it('changes travel on the bus as ~directory events of the ~directory channel, access changes as ~access events', async () => {
    const bus = new MemoryBus();
    const seen: [string, string, unknown][] = [];
    bus.subscribe((e) => seen.push([e.event, e.channel, e.data]));
    const hub = createHub(tickContract, { state: { ticks: 0 }, bus });
    await hub.channel('one').describe({ name: 'one' });
    await hub.invalidateAccess('bob');
    // Instances of other versions read the same stream: the names are part of its format.
    expect([DIRECTORY_EVENT, ACCESS_EVENT]).toEqual(['~directory', '~access']);
    expect(seen).toEqual([
      ['~directory', DIRECTORY, { channel: 'one', set: { name: 'one' } }],
      ['~access', '~access', { principal: 'bob' }],
    ]);
    await hub.close();
  });

  it('a viewer of the directory gets each change as an entry frame', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    const viewer = frameSink();
    hub.connect({ channels: [DIRECTORY] }, viewer.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await hub.channel('one').describe({ name: 'one' });
    expect(viewer.frames.at(-1)).toMatchObject({
      type: 'event',
      channel: DIRECTORY,
      event: 'entry',
      data: { id: 'one', name: 'one' },
    });
    await hub.close();
  });

  it('directoryPage leaves out the entries the principal may not see (sync and async policies)', async () => {
    for (const answer of [(ok: boolean) => ok, (ok: boolean) => Promise.resolve(ok)]) {
      const access: AccessPolicy = {
        canSee: (principal, channel) => answer(principal === 'admin' || channel !== 'secret'),
      };
      const hub = createHub(tickContract, { state: { ticks: 0 }, access });
      for (const id of ['b', 'secret', 'a']) await hub.channel(id).describe({ name: id });
      expect(await hub.directoryPage({}, 'bob')).toEqual({
        entries: [
          { id: 'a', name: 'a' },
          { id: 'b', name: 'b' },
        ],
        total: 2,
      });
      expect((await hub.directoryPage({}, 'admin')).total).toBe(3);
      await hub.close();
    }
  });

  it('a policy that throws on a directory change is reported, and that change is not shown', async () => {
    const access: AccessPolicy = {
      canSee: (_principal, channel) => {
        if (channel === 'secret') throw new Error('policy bug');
        return true;
      },
    };
    const hub = createHub(tickContract, { state: { ticks: 0 }, access });
    const viewer = frameSink();
    hub.connect({ channels: [DIRECTORY], principal: 'bob' }, viewer.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    await hub.channel('secret').describe({ name: 'secret' });
    await hub.channel('public').describe({ name: 'public' });
    expect(errors).toEqual(['access.canSee']);
    const entries = viewer.frames.filter((f) => f.event === 'entry').map((f) => (f.data as { id: string }).id);
    expect(entries).toEqual(['public']);
    await hub.close();
  });

  it('a policy answering null (not a boolean) refuses the channel without breaking the subscription', async () => {
    const access: AccessPolicy = { canSee: (_p, channel) => (channel === 'one' ? (null as unknown as boolean) : true) };
    const hub = createHub(tickContract, { state: { ticks: 0 }, access });
    const viewer = frameSink();
    hub.connect({ channels: ['one', 'two'], principal: 'bob' }, viewer.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(viewer.frames.filter((f) => f.channel === 'one').map((f) => f.type)).toEqual(['forbidden']);
    expect(viewer.frames.filter((f) => f.channel === 'two').map((f) => f.type)).toEqual(['snapshot']);
    await hub.close();
  });
});

describe('Hub commands', () => {
  it('validates with zod and runs the handler', async () => {
    const hub = makeHub();
    const result = await hub.dispatch('led', { state: 'on' }, { transport: 'http' });
    expect(result).toEqual({ ok: true, data: { on: true }, json: '{"on":true}' });
    expect(hub.state.led.on).toBe(true);
    const bad = await hub.dispatch('led', { state: 'dim' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toBeInstanceOf(BoardcastError);
      expect(bad.error.code).toBe('invalid_payload');
      expect(bad.error.message).toMatch(/state/);
      expect(bad.error.status).toBe(400);
    }
  });

  it('validates with valibot, including the result', async () => {
    const hub = makeHub();
    hub.handle('blink', ({ times }) => ({ done: times > 0 }));
    expect(await hub.call('blink', { times: 3 })).toEqual({ done: true });
    const bad = await hub.dispatch('blink', { times: 11 });
    expect(!bad.ok && bad.error.code).toBe('invalid_payload');
    expect(!bad.ok && bad.error.message).toMatch(/times/);
  });

  it('maps unknown commands, missing handlers, crashes and timeouts to stable codes', async () => {
    const hub = makeHub();
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    const unknown = await hub.dispatch('nope', {});
    expect(!unknown.ok && unknown.error.code).toBe('unknown_command');
    const noHandler = await hub.dispatch('blink', { times: 1 });
    expect(!noHandler.ok && noHandler.error.code).toBe('unknown_command');
    const proto = await hub.dispatch('__proto__', {});
    expect(!proto.ok && proto.error.code).toBe('unknown_command');

    hub.handle('blink', () => {
      throw new Error('secret internal detail');
    });
    const crashed = await hub.dispatch('blink', { times: 1 });
    expect(!crashed.ok && crashed.error.code).toBe('handler_failed');
    expect(!crashed.ok && crashed.error.message).not.toMatch(/secret/);
    expect(errors).toHaveLength(1);

    let aborted = false;
    hub.handle(
      'slow',
      (_input, ctx) =>
        new Promise<string>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
          });
          setTimeout(() => resolve('late'), 200);
        }),
      { timeoutMs: 20 },
    );
    const slow = await hub.dispatch('slow', null);
    expect(!slow.ok && slow.error.code).toBe('timeout');
    expect(!slow.ok && slow.error.status).toBe(504);
    expect(aborted).toBe(true);
  });

  it('passes BoardcastErrors from handlers through unchanged', async () => {
    const hub = makeHub();
    hub.handle('slow', () => {
      throw new BoardcastError('board_offline', 'board "esp32" is offline');
    });
    const r = await hub.dispatch('slow', null);
    expect(!r.ok && r.error.toJSON()).toEqual({ code: 'board_offline', message: 'board "esp32" is offline' });
  });

  it('emits one command log per dispatch', async () => {
    const hub = makeHub();
    const logs: unknown[] = [];
    hub.on('command', (log) => logs.push(log));
    await hub.dispatch('led', { state: 'toggle' }, { transport: 'ws', clientId: 'c1' });
    expect(logs).toEqual([
      expect.objectContaining({ command: 'led', ok: true, transport: 'ws', clientId: 'c1', code: undefined }),
    ]);
  });

  it('refuses a second handler and handlers for commands outside the contract', () => {
    const hub = makeHub();
    expect(() => hub.handle('led', () => ({ on: true }))).toThrow(/already/);
    expect(() => hub.handle('zzz' as 'led', () => ({ on: true }))).toThrow(BoardcastError);
  });

  it('close aborts in-flight commands and stops delivery', async () => {
    const hub = makeHub();
    hub.handle('slow', () => new Promise<string>(() => undefined), { timeoutMs: 10_000 });
    const pending = hub.dispatch('slow', null);
    await hub.close();
    const r = await pending;
    expect(!r.ok && r.error.code).toBe('closed');
    await expect(hub.publish('time', 'x')).rejects.toMatchObject({ code: 'closed', message: 'hub is closed' });
  });

  it('admits a burst of twice commandsPerSecond by default', async () => {
    const hub = createHub(ledContract, { state: initialState, commandsPerSecond: 2 });
    hub.handle('blink', () => ({ done: true }));
    const results = await Promise.all(Array.from({ length: 10 }, () => hub.dispatch('blink', { times: 1 })));
    expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(4);
    expect(results.some((r) => !r.ok && r.error.code === 'too_many_requests')).toBe(true);
    await hub.close();
  });
});

describe('BoardcastError', () => {
  it('maps codes to HTTP statuses and close codes and round-trips JSON', () => {
    const e = new BoardcastError('payload_too_large', 'too big');
    expect([e.status, e.closeCode]).toEqual([413, 1009]);
    expect(e.toBody()).toEqual({ error: { code: 'payload_too_large', message: 'too big' } });
    expect(BoardcastError.fromJSON(e.toJSON())).toMatchObject({ code: 'payload_too_large', message: 'too big' });
    expect(BoardcastError.fromJSON({ code: 'from_the_future', message: 'x' }).code).toBe('handler_failed');
    expect(BoardcastError.fromJSON(42).code).toBe('handler_failed');
  });
});
