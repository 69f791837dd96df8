/**
 * Promises of the hub that no other test noticed being broken (mutation
 * testing, issue 28), checked only through the public API — `createHub`,
 * `hub.attach`, `hub.dispatch`, `hub.on`, `hub.channel(id).metrics` — so the
 * tests hold whatever the hub's internals become.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { EncodedEvent } from '../src/encoded-event.js';
import {
  type BusListener,
  type BusStatus,
  createHub,
  DEFAULT_CHANNEL,
  defineContract,
  MemoryBus,
  type StateCheckpoint,
  typed,
} from '../src/index.js';
import type { HubSink, SinceResult } from '../src/wire.js';
import { ForwardingBus } from './fixtures.js';
import { wireClient } from './wire-client.js';

const contract = defineContract({
  events: { count: typed<number>(), note: typed<string>() },
  commands: {
    led: { input: typed<{ on: boolean }>(), result: z.object({ on: z.boolean() }) },
  },
  state: typed<{ count: number }>(),
  reducers: { count: (state, n) => (n === state.count ? state : { count: n }) },
});
const initial = { count: 0 };

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A network bus as the hub meets it: the in-memory bus, except that
 * `since()` answers only when the test says so (Redis answers a resume
 * asynchronously while new events keep arriving), and `loadState` likewise
 * when `slowLoad` is set (a hub still loading its checkpoint).
 */
class GatedBus extends ForwardingBus {
  readonly pendingSince: { resolve(): void }[] = [];
  readonly load = deferred<StateCheckpoint | undefined>();
  readonly loadState?: () => Promise<StateCheckpoint | undefined>;
  /**
   * When `since()` reads the history: when asked (Redis runs the XRANGE then;
   * events published meanwhile are only in the live stream, so the hub must
   * buffer them), or when it answers (they are in the replay too, so the hub
   * must drop them from its buffer).
   */
  readonly readAt: 'call' | 'answer';
  constructor(options: { slowLoad?: boolean; readAt?: 'call' | 'answer' } = {}) {
    super(new MemoryBus({ epoch: 'gate' }));
    if (options.slowLoad) this.loadState = () => this.load.promise;
    this.readAt = options.readAt ?? 'call';
  }
  override since(lastId: string, channel?: string): Promise<SinceResult> {
    const gate = deferred<void>();
    this.pendingSince.push({ resolve: () => gate.resolve() });
    if (this.readAt === 'answer') return gate.promise.then(() => this.inner.since(lastId, channel));
    const answer = this.inner.since(lastId, channel);
    return gate.promise.then(() => answer);
  }
  readonly #resync = new Set<(checkpoint: StateCheckpoint) => void>();
  onResync(listener: (checkpoint: StateCheckpoint) => void) {
    this.#resync.add(listener);
    return () => this.#resync.delete(listener);
  }
  /** Events this instance missed are gone: hand the hub a newer checkpoint (as RedisBus does after a long cut). */
  resync(checkpoint: StateCheckpoint) {
    for (const listener of this.#resync) listener(checkpoint);
  }
  /** Release every pending `since()`. */
  answer() {
    for (const p of this.pendingSince.splice(0)) p.resolve();
  }
}

/** A bus that reports its health (as RedisBus does), so the hub sends status frames. */
class StatusGatedBus extends GatedBus {
  status: BusStatus = 'ok';
  readonly #listeners = new Set<(status: BusStatus) => void>();
  onStatus(listener: (status: BusStatus) => void) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  setStatus(status: BusStatus) {
    this.status = status;
    for (const listener of this.#listeners) listener(status);
  }
}

/** Every frame a transport would write on a WebSocket, as written (a resumed stream has no snapshot). */
function recorder() {
  const frames: string[] = [];
  const resets: string[] = [];
  const sink: HubSink = {
    snapshot: (s) => frames.push(s.ws),
    event: (e) => frames.push(e.ws),
    reset: (reason) => resets.push(reason),
  };
  return { frames, resets, sink };
}

/**
 * Attach, detach before the client's start completed, then let it complete:
 * the client must get nothing and hold no subscription (no leak).
 */
async function detachBeforeStart(
  hub: ReturnType<typeof createHub<typeof contract>>,
  lastEventId: string | undefined,
  complete: () => unknown,
) {
  const client = recorder();
  const detach = hub.attach({ lastEventId }, client.sink);
  await settle();
  detach();
  await complete();
  await settle();
  await hub.publish('count', 99);
  expect(client.frames).toEqual([]);
  expect(hub.channel(DEFAULT_CHANNEL).metrics.subscribers).toBe(0);
}

async function waitUntil(check: () => boolean) {
  while (!check()) await settle();
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const events = (frames: string[]) =>
  frames.map((f) => JSON.parse(f) as { type: string; event?: string; id?: string; data?: unknown });

describe('a resume while the bus answers since() asynchronously', () => {
  it.each(['call', 'answer'] as const)(
    'loses nothing published meanwhile and repeats nothing (history read at %s)',
    async (readAt) => {
      const bus = new GatedBus({ readAt });
      const hub = createHub(contract, { state: initial, bus });
      const a = await hub.publish('count', 1);
      await hub.publish('count', 2);

      const errors: unknown[] = [];
      hub.on('error', (error) => errors.push(error));
      const client = recorder();
      hub.attach({ lastEventId: a }, client.sink);
      await settle();
      expect(bus.pendingSince).toHaveLength(1);
      // Live while the resume is unanswered: these must reach the client after the replay.
      await hub.publish('count', 3);
      await hub.publish('note', 'live');
      expect(client.frames).toEqual([]);

      bus.answer();
      await settle();
      const got = events(client.frames);
      expect(got.map((m) => [m.type, m.event, m.data])).toEqual([
        ['event', 'count', 2],
        ['event', 'count', 3],
        ['event', 'note', 'live'],
      ]);
      // Ids only grow: nothing replayed twice, nothing out of order.
      const ids = got.map((m) => m.id as string);
      expect(new Set(ids).size).toBe(ids.length);
      for (let i = 1; i < ids.length; i++) expect(bus.compareIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
      expect(client.resets).toEqual([]);
      expect(errors).toEqual([]);
      await hub.close();
    },
  );

  it('a status change reaches the client at once, whatever its event filter, while the resume is pending', async () => {
    const bus = new StatusGatedBus();
    const hub = createHub(contract, { state: initial, bus });
    const a = await hub.publish('count', 1);
    const client = recorder();
    hub.attach({ lastEventId: a, events: new Set(['count']) }, client.sink);
    await settle();
    bus.setStatus('degraded');
    await settle();
    expect(
      events(client.frames)
        .filter((m) => m.type === 'status')
        .map((m) => m.data),
    ).toContainEqual({
      bus: 'degraded',
    });
    bus.answer();
    await hub.close();
  });

  it('a client that detaches before since() answers is never subscribed', async () => {
    const bus = new GatedBus();
    const hub = createHub(contract, { state: initial, bus });
    const a = await hub.publish('count', 1);
    await detachBeforeStart(hub, a, () => bus.answer());
    await hub.close();
  });
});

describe('a client attaching while the hub loads its checkpoint', () => {
  it('starts from the loaded state once it is there, with the events after it', async () => {
    const bus = new GatedBus({ slowLoad: true });
    const hub = createHub(contract, { state: initial, bus });
    const client = wireClient(contract);
    hub.attach({}, client.sink);
    await settle();
    expect(client.frames).toEqual([]); // no snapshot of a state that is not yet the state at any id

    bus.load.resolve({ id: undefined, state: { count: 41 } });
    await hub.ready;
    await settle();
    await hub.publish('count', 42);
    expect(events(client.frames).map((m) => [m.type, m.data])).toEqual([
      ['snapshot', { count: 41 }],
      ['event', 42],
    ]);
    expect(client.state).toEqual({ count: 42 });
    await hub.close();
  });

  it('a client that detaches before the checkpoint is loaded is never subscribed', async () => {
    const bus = new GatedBus({ slowLoad: true });
    const hub = createHub(contract, { state: initial, bus });
    await detachBeforeStart(hub, undefined, () => {
      bus.load.resolve(undefined);
      return hub.ready;
    });
    await hub.close();
  });
});

describe('a resync from the bus', () => {
  it('adopts the checkpoint: state event, hub.state and the next snapshot all show it', async () => {
    const bus = new GatedBus();
    const hub = createHub(contract, { state: initial, bus });
    await hub.publish('count', 1);
    expect(hub.snapshot().ws).toContain('"count":1'); // the snapshot is cached now
    const seen: [unknown, string][] = [];
    hub.on('state', (state, channel) => seen.push([state, channel]));
    bus.resync({ id: bus.headId, state: { count: 77 } });
    expect(seen).toEqual([[{ count: 77 }, DEFAULT_CHANNEL]]);
    expect(hub.state).toEqual({ count: 77 });
    expect(hub.snapshot().ws).toContain('"count":77'); // not the cached frame of the old state
    await hub.close();
  });
});

describe('closing', () => {
  it('hub.close() ends a running command at once with `closed`, long before its timeout', async () => {
    const hub = createHub(contract, { state: initial, commandTimeoutMs: 600_000 });
    let started = false;
    hub.handle('led', () => {
      started = true;
      return new Promise<never>(() => undefined); // never settles
    });
    const result = hub.dispatch('led', { on: true });
    await waitUntil(() => started);
    await hub.close();
    expect(await result).toMatchObject({ ok: false, error: { code: 'closed', message: 'hub is closed' } });
  });

  it('a closed hub says so, refuses commands, has no clients left, and closes once (its bus too)', async () => {
    let busCloses = 0;
    const bus = new (class extends MemoryBus {
      override close() {
        busCloses++; // a network bus's second close would quit a connection already gone
        super.close();
      }
    })();
    const hub = createHub(contract, { state: initial, bus });
    hub.handle('led', ({ on }) => ({ on }));
    const client = recorder();
    hub.attach({}, client.sink);
    hub.connect({ channels: ['kitchen'] }, recorder().sink);
    expect(hub.subscriberCount).toBe(2);
    let closes = 0;
    hub.on('close', () => closes++);
    expect(hub.closed).toBe(false);
    await hub.close();
    await hub.close();
    expect(hub.closed).toBe(true);
    expect(closes).toBe(1);
    expect(busCloses).toBe(1);
    expect(hub.subscriberCount).toBe(0); // every connection ended, not left holding the hub
    expect(await hub.dispatch('led', { on: true })).toMatchObject({
      ok: false,
      error: { code: 'closed', message: 'hub is closed' },
    });
  });

  it('adding channels to a closed connection resolves with nothing added', async () => {
    const hub = createHub(contract, { state: initial });
    const connection = hub.connect({ channels: ['a'] }, recorder().sink);
    connection.close();
    await expect(connection.add(['b'])).resolves.toEqual({ added: [], refused: [] });
    await hub.close();
  });
});

describe('command results', () => {
  it('a result that fails its result schema is handler_failed for the client and an error for the log', async () => {
    const hub = createHub(contract, { state: initial });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    hub.handle('led', (({ on }: { on: boolean }) => ({ on: on ? 'yes' : 'no' })) as never);

    const result = await hub.dispatch('led', { on: true });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('handler_failed');
      expect(result.error.message).toBe('command "led" failed'); // nothing of the schema's message leaks
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe('command "led" returned an invalid result');
    expect(errors[0]![0]).toMatchObject({ code: 'invalid_payload' });
    expect((errors[0]![0] as Error).message).toMatch(/^command "led" result: /);
    await hub.close();
  });

  it('a result that passes its schema is the validated value and its JSON', async () => {
    const hub = createHub(contract, { state: initial });
    hub.handle('led', ({ on }) => ({ on }));
    expect(await hub.dispatch('led', { on: true })).toEqual({ ok: true, data: { on: true }, json: '{"on":true}' });
    await hub.close();
  });
});

describe("the hub's state event", () => {
  it('fires with the new state and its channel when folding changed it, and not when it did not', async () => {
    const hub = createHub(contract, { state: initial });
    const seen: [unknown, string][] = [];
    hub.on('state', (state, channel) => seen.push([state, channel]));

    await hub.publish('count', 1);
    expect(seen).toEqual([[{ count: 1 }, DEFAULT_CHANNEL]]);
    await hub.publish('count', 1); // the reducer returns the same object: no change
    await hub.publish('note', 'no reducer');
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBe(hub.state);

    await hub.channel('kitchen').publish('count', 7);
    expect(seen[1]).toEqual([{ count: 7 }, 'kitchen']);

    await hub.setState({ count: 9 });
    expect(seen[2]).toEqual([{ count: 9 }, DEFAULT_CHANNEL]);
    expect(seen).toHaveLength(3);
    await hub.close();
  });
});

describe('dispatch', () => {
  /** A contract whose `led` result may be anything, so a handler can return what JSON cannot carry. */
  const loose = defineContract({
    events: {},
    commands: {
      led: { input: z.object({ on: z.boolean() }), result: typed<unknown>() },
      // A validator that breaks while reporting: its issue's path holds what no formatter expects.
      broken: {
        input: {
          '~standard': {
            version: 1,
            vendor: 'test',
            validate: () => ({ issues: [{ message: 'bad', path: [null as never] }] }),
          },
        } as never,
        result: typed<null>(),
      },
    },
    state: typed<null>(),
  });

  it('refuses what it cannot run with a code and a message that names what is wrong', async () => {
    const hub = createHub(contract, { state: initial });
    const nope = await hub.dispatch('nope', {});
    expect(nope).toMatchObject({ ok: false, error: { code: 'unknown_command', message: 'unknown command "nope"' } });
    const badChannel = await hub.dispatch('led', { on: true }, { channel: 'not a channel!' });
    expect(badChannel).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: 'invalid channel id' } });
    const noHandler = await hub.dispatch('led', { on: true });
    expect(noHandler).toMatchObject({
      ok: false,
      error: { code: 'unknown_command', message: 'command "led" has no handler' },
    });
    await hub.close();
  });

  it('an input its schema refuses is invalid_payload, the message naming the command', async () => {
    const hub = createHub(loose, { state: null });
    hub.handle('led', ({ on }) => ({ on }));
    const badInput = await hub.dispatch('led', { on: 'yes' }, { channel: 'kitchen' });
    expect(badInput).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    if (!badInput.ok) expect(badInput.error.message).toMatch(/^command "led" input: /);
    await hub.close();
  });

  it('hub.call throws the refusal instead of returning it', async () => {
    const hub = createHub(contract, { state: initial });
    await expect(hub.call('led', { on: true })).rejects.toMatchObject({ code: 'unknown_command' });
    await hub.close();
  });

  it('handle() refuses a command the contract does not name, and a second handler of one command', async () => {
    const hub = createHub(contract, { state: initial });
    let thrown: unknown;
    try {
      hub.handle('nope' as never, () => null as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'unknown_command', message: 'command "nope" is not in the contract' });
    hub.handle('led', ({ on }) => ({ on }));
    expect(() => hub.handle('led', ({ on }) => ({ on }))).toThrow('command "led" already has a handler');
    await hub.close();
  });

  it('the function handle() returns removes that handler, and only that one', async () => {
    const hub = createHub(contract, { state: initial });
    const off = hub.handle('led', () => ({ on: true }));
    off();
    expect(await hub.dispatch('led', { on: false })).toMatchObject({ ok: false, error: { code: 'unknown_command' } });
    hub.handle('led', () => ({ on: false }));
    off(); // the first handler's remover, called again: the second handler stays
    expect(await hub.dispatch('led', { on: true })).toMatchObject({ ok: true, data: { on: false } });
    await hub.close();
  });

  it('the audit event names the local transport by default and the time the command took', async () => {
    const hub = createHub(contract, { state: initial });
    hub.handle('led', ({ on }) => ({ on }));
    const logs: { transport: string; durationMs: number }[] = [];
    hub.on('command', (log) => logs.push(log));
    const before = Date.now();
    await hub.dispatch('led', { on: true });
    const took = Date.now() - before;
    expect(logs).toHaveLength(1);
    expect(logs[0]!.transport).toBe('local');
    // Measured inside the call, so never more than the caller measured around it.
    expect(logs[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(logs[0]!.durationMs).toBeLessThanOrEqual(took);
    await hub.close();
  });

  it('a policy that throws refuses the command and is reported; a checked principal is not judged again', async () => {
    const hub = createHub(contract, {
      state: initial,
      access: {
        canSee: () => true,
        canCommand: () => {
          throw new Error('policy down');
        },
      },
    });
    hub.handle('led', ({ on }) => ({ on }));
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    const refused = await hub.dispatch('led', { on: true }, { channel: 'kitchen', auth: 'alice' });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: 'command "led" on channel "kitchen" is not allowed' },
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe('access.canCommand');
    expect((errors[0]![0] as Error).message).toBe('policy down');
    // A router's owning instance: the receiving instance already asked the policy.
    expect(await hub.dispatch('led', { on: true }, { checkedPrincipal: 'alice' })).toMatchObject({ ok: true });
    expect(errors).toHaveLength(1);
    await hub.close();
  });

  it('a command while the bus is unreachable is refused at once, saying why', async () => {
    const bus = new StatusGatedBus();
    const hub = createHub(contract, { state: initial, bus });
    hub.handle('led', ({ on }) => ({ on }));
    bus.setStatus('degraded');
    expect(await hub.dispatch('led', { on: true })).toMatchObject({
      ok: false,
      error: { code: 'bus_unavailable', message: 'command "led" refused: the server cannot reach its bus' },
    });
    await hub.close();
  });

  it("the handler's deadline is its timeout from now, and a timeout says after how long", async () => {
    const hub = createHub(contract, { state: initial });
    let deadline = 0;
    let before = 0;
    hub.handle(
      'led',
      (_input, context) => {
        deadline = context.deadline;
        return new Promise<never>(() => undefined);
      },
      { timeoutMs: 20 },
    );
    before = performance.now();
    const result = await hub.dispatch('led', { on: true });
    expect(deadline).toBeGreaterThanOrEqual(before + 20);
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'timeout', message: 'command "led" timed out after 20 ms' },
    });
    await hub.close();
  });

  it('a command that finished is not aborted later: its timeout is cleared', async () => {
    const hub = createHub(contract, { state: initial });
    let signal: AbortSignal | undefined;
    hub.handle(
      'led',
      ({ on }, context) => {
        signal = context.signal; // a handler may keep it for work it started
        return { on };
      },
      { timeoutMs: 10 },
    );
    expect(await hub.dispatch('led', { on: true })).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 60)); // well past the 10 ms timeout
    expect(signal?.aborted).toBe(false);
    await hub.close();
    expect(signal?.aborted).toBe(false); // nor by close: it is no longer running
  });

  it('a handler that throws is handler_failed for the client and the error, with where, for the log', async () => {
    const hub = createHub(contract, { state: initial });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    hub.handle('led', () => {
      throw new Error('secret internals');
    });
    expect(await hub.dispatch('led', { on: true })).toMatchObject({
      ok: false,
      error: { code: 'handler_failed', message: 'command "led" failed' },
    });
    expect(errors).toEqual([[new Error('secret internals'), 'command "led"']]);
    await hub.close();
  });

  it('a result that is undefined is the JSON null; one JSON cannot carry is handler_failed and reported', async () => {
    const hub = createHub(loose, { state: null });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    let result: unknown;
    hub.handle('led', () => result);
    expect(await hub.dispatch('led', { on: true })).toEqual({ ok: true, data: undefined, json: 'null' });

    result = { n: 10n };
    expect(await hub.dispatch('led', { on: true })).toMatchObject({
      ok: false,
      error: { code: 'handler_failed', message: 'command "led" failed' },
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe('command "led" returned a non-JSON result');
    expect(errors[0]![0]).toBeInstanceOf(TypeError);
    await hub.close();
  });

  it('an input validator that breaks is invalid_payload "invalid input", its error kept as the cause', async () => {
    const hub = createHub(loose, { state: null });
    hub.handle('broken', () => null);
    const result = await hub.dispatch('broken', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_payload', message: 'invalid input' } });
    if (!result.ok) expect(result.error.cause).toBeInstanceOf(TypeError);
    await hub.close();
  });
});

describe('hub.subscribe', () => {
  it('gets live events until its unsubscribe function is called', async () => {
    const hub = createHub(contract, { state: initial });
    const got: unknown[] = [];
    const unsubscribe = hub.subscribe((event) => got.push(event.data));
    await hub.publish('count', 1);
    unsubscribe();
    await hub.publish('count', 2);
    expect(got).toEqual([1]);
    await hub.close();
  });
});

describe('hub.since', () => {
  it('answers the events after an id, a setState among them as its snapshot frame, and a gap for an unknown id', async () => {
    const hub = createHub(contract, { state: initial });
    const a = await hub.publish('count', 1);
    await hub.setState({ count: 5 });
    const stateId = hub.headId;
    const b = await hub.publish('note', 'after');
    const result = await hub.since(a);
    expect(result.kind).toBe('events');
    if (result.kind === 'events') {
      expect(result.events.map((e) => e.id)).toEqual([stateId, b]);
      expect(result.events[0]!.event).not.toBe('note');
      // The state frame (the whole state under `s`), not the patch the bus holds.
      expect(result.events[0]!.data).toEqual({ s: { count: 5 } });
      expect(result.events[1]!.data).toBe('after');
    }
    expect(await hub.since('not-an-id')).toEqual({ kind: 'gap' });
    await hub.close();
  });
});

describe("an access policy's principalId that throws", () => {
  it('is reported, and the viewer counts as anonymous', async () => {
    const hub = createHub(contract, {
      state: initial,
      access: {
        principalId: () => {
          throw new Error('no id');
        },
        canSee: () => true,
      },
    });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    const connection = hub.connect({ channels: ['kitchen'], principal: { token: 'x' } }, recorder().sink);
    expect(connection.principalId).toBe('anonymous');
    expect(errors).toEqual([[new Error('no id'), 'access.principalId']]);
    await hub.close();
  });
});

/** A MemoryBus with checkpoints to load, handed over when the test says (a shared bus still reading them). */
class LoadingBus extends MemoryBus {
  readonly load = deferred<readonly StateCheckpoint[] | StateCheckpoint | undefined>();
  constructor() {
    super({ epoch: 'load' });
  }
  loadState() {
    return this.load.promise;
  }
}

/** A hub on a LoadingBus, and the errors it reports. */
function loadingHub() {
  const bus = new LoadingBus();
  const hub = createHub(contract, { state: initial, bus });
  const errors: unknown[] = [];
  hub.on('error', (error) => errors.push(error));
  return { bus, hub, errors };
}

describe('loading checkpoints', () => {
  it('a bus without checkpoints is no error: nothing is logged', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const hub = createHub(contract, { state: initial });
      await hub.ready;
      expect(logged).not.toHaveBeenCalled();
      await hub.close();
    } finally {
      logged.mockRestore();
    }
  });

  it('none loaded: the state stays the initial one, and nothing is reported', async () => {
    const { bus, hub, errors } = loadingHub();
    bus.load.resolve(undefined);
    await hub.ready;
    expect(hub.state).toEqual(initial);
    expect(errors).toEqual([]);
    await hub.close();
  });

  it("the head is the newest of the checkpoints' ids and of the events delivered meanwhile; each channel exists", async () => {
    const { bus, hub, errors } = loadingHub();
    // Delivered while loading (ids load-1, load-2): older than the newest checkpoint, so the head stays there.
    bus.publish('count', 3, '3', 'early');
    await hub.invalidateAccess();
    bus.load.resolve([
      { channel: 'a', id: 'load-5', state: { count: 5 } },
      { channel: 'b', id: 'load-7', state: { count: 7 } }, // newer than the one before
      { channel: 'c', id: undefined, state: { count: 1 } }, // no id: it moves nothing
      { channel: 'd', id: 'load-4', state: { count: 4 } }, // older: it does not move the head back
    ]);
    await hub.ready;
    expect(hub.headId).toBe('load-7');
    expect(hub.channels).toEqual(['a', 'b', 'c', 'd', DEFAULT_CHANNEL, 'early'].sort()); // the access event is no channel
    expect(hub.channel('early').state).toEqual({ count: 3 });
    expect(hub.channel('b').state).toEqual({ count: 7 });
    expect(errors).toEqual([]);
    await hub.close();
  });

  it("the directory's checkpoint keeps only entries with an id; one that is no list is an empty directory", async () => {
    for (const [state, ids] of [
      [[null, { id: 5 }, { id: 'board-1', kind: 'esp32' }], ['board-1']],
      [{ 'board-1': { id: 'board-1' } }, []],
    ] as const) {
      const { bus, hub, errors } = loadingHub();
      bus.load.resolve([{ channel: '~directory', id: 'load-2', state }]);
      await hub.ready;
      expect([...hub.directory.keys()]).toEqual(ids);
      expect(errors).toEqual([]);
      await hub.close();
    }
  });
});

/**
 * A bus that hands its events to the hub only when the test says: the hub
 * lags behind it, as an instance of a fleet lags behind the shared bus a
 * client's id came from.
 */
class LaggingBus extends ForwardingBus {
  readonly #queue: EncodedEvent[] = [];
  #listener: BusListener | undefined;
  constructor() {
    super(new MemoryBus({ epoch: 'lag' }));
    this.inner.subscribe((event) => this.#queue.push(event));
  }
  override subscribe(listener: BusListener) {
    this.#listener = listener;
    return () => {
      this.#listener = undefined;
    };
  }
  /** Hand the hub every event published so far. */
  deliver() {
    for (const event of this.#queue.splice(0)) this.#listener?.(event);
  }
}

describe('a client resuming from an id this hub has not reached yet', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A hub at `lag-1` while the bus is at `lag-3`, the id the client holds. */
  async function lagging() {
    const bus = new LaggingBus();
    const hub = createHub(contract, { state: initial, bus });
    await hub.publish('count', 1);
    bus.deliver();
    bus.publish('count', 2, '2');
    const held = bus.publish('count', 3, '3');
    return { bus, hub, held };
  }

  it.each([
    ['', false],
    [', in a runtime whose timers are plain numbers (a browser)', true],
  ])('waits until the hub has it, then gets only what follows (nothing twice)%s', async (_where, numbers) => {
    const real = globalThis.setTimeout;
    // A browser's setTimeout returns a number, which has no unref().
    if (numbers) globalThis.setTimeout = ((fn: () => void, ms?: number) => Number(real(fn, ms))) as typeof setTimeout;
    try {
      const { bus, hub, held } = await lagging();
      const client = recorder();
      hub.attach({ lastEventId: held }, client.sink);
      await settle();
      bus.deliver();
      await settle();
      await hub.publish('count', 4);
      bus.deliver();
      await settle();
      expect(events(client.frames).map((m) => [m.type, m.data])).toEqual([['event', 4]]);
      expect(client.resets).toEqual([]);
      await hub.close();
    } finally {
      globalThis.setTimeout = real;
    }
  });

  it('gets a reset and a snapshot when the hub does not reach it within 5 s', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { hub, held } = await lagging();
    const client = recorder();
    hub.attach({ lastEventId: held }, client.sink);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(client.frames).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(client.resets).toEqual(['history']);
    expect(events(client.frames).map((m) => [m.type, m.data])).toEqual([['snapshot', { count: 1 }]]);
    await hub.close();
  });

  it("one client's wait ending does not end another's", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus, hub, held } = await lagging();
    const first = recorder();
    hub.attach({ lastEventId: held }, first.sink);
    await vi.advanceTimersByTimeAsync(3_000);
    const second = recorder();
    hub.attach({ lastEventId: held }, second.sink);
    await vi.advanceTimersByTimeAsync(2_000); // the first client's wait ends
    expect(first.resets).toEqual(['history']);
    bus.deliver(); // the hub reaches the id: the second client, still waiting, resumes
    await vi.advanceTimersByTimeAsync(0);
    await hub.publish('count', 4);
    bus.deliver();
    await vi.advanceTimersByTimeAsync(0);
    expect(second.resets).toEqual([]);
    expect(events(second.frames).map((m) => [m.type, m.data])).toEqual([['event', 4]]);
    await hub.close();
  });

  it('a client still waiting when the hub closes gets nothing', async () => {
    const { hub, held } = await lagging();
    const client = recorder();
    hub.attach({ lastEventId: held }, client.sink);
    await settle();
    await hub.close();
    await settle();
    expect(client.frames).toEqual([]);
    expect(client.resets).toEqual([]);
  });
});
