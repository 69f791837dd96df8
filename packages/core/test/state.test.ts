import { describe, expect, it } from 'vitest';
import {
  BoardcastError,
  type Bus,
  createHub,
  defineContract,
  MemoryBus,
  type StandardSchemaV1,
  typed,
} from '../src/index.js';
import { wireClient } from './wire-client.js';

interface CounterState {
  readonly seen: readonly number[];
  readonly label: string;
}

/** A Standard Schema whose check takes a random few milliseconds, like one that asks a database. */
function slowNumber(): StandardSchemaV1<number, number> {
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) =>
        new Promise((resolve) =>
          setTimeout(
            () => resolve(typeof value === 'number' ? { value } : { issues: [{ message: 'expected a number' }] }),
            Math.random() * 3,
          ),
        ),
    },
  };
}

const counter = defineContract({
  events: { change: slowNumber(), note: typed<string>() },
  commands: {},
  state: typed<CounterState>(),
  reducers: { change: (state, n) => ({ ...state, seen: [...state.seen, n] }) },
});

const initial: CounterState = { seen: [], label: 'start' };

describe('state folded from events', () => {
  it('folds every event through its reducer; the snapshot with id N is the state after event N', async () => {
    const hub = createHub(counter, { state: initial });
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) {
      ids.push(await hub.publish('change', n));
      const snapshot = hub.snapshot();
      expect(snapshot.headId).toBe(ids.at(-1));
      expect(JSON.parse(snapshot.json)).toEqual({ seen: Array.from({ length: n }, (_, i) => i + 1), label: 'start' });
    }
    // An event without a reducer changes nothing but the head.
    const noted = await hub.publish('note', 'hi');
    expect(hub.state.seen).toEqual([1, 2, 3, 4, 5]);
    expect(hub.snapshot().headId).toBe(noted);
  });

  it('orders setState with events and sends it as a snapshot frame with its id', async () => {
    const hub = createHub(counter, { state: initial });
    const early = wireClient(counter);
    hub.attach({}, early.sink);
    await hub.publish('change', 1);
    await hub.setState((s) => ({ ...s, label: 'renamed' }));
    await hub.publish('change', 2);
    expect(hub.state).toEqual({ seen: [1, 2], label: 'renamed' });
    expect(early.state).toEqual(hub.state);
    expect(early.snapshots).toBe(2);
    const stateFrame = JSON.parse(early.frames[2] ?? '{}') as { type: string; id?: string };
    expect(stateFrame.type).toBe('snapshot');
    expect(stateFrame.id).toMatch(/-2$/);

    // A client resuming from before the setState gets it replayed, in place.
    const resumed = wireClient(counter);
    resumed.state = { seen: [1], label: 'start' };
    hub.attach({ lastEventId: JSON.parse(early.frames[1] ?? '{}').id }, resumed.sink);
    expect(resumed.state).toEqual(hub.state);

    // Unchanged state publishes nothing.
    const head = hub.headId;
    await hub.setState((s) => s);
    await hub.setState({ seen: hub.state.seen, label: 'renamed' });
    expect(hub.headId).toBe(head);
  });

  it('a client filtering events still receives setState changes: they are part of the state', async () => {
    const hub = createHub(counter, { state: initial });
    const filtered = wireClient(counter);
    hub.attach({ events: new Set(['note']) }, filtered.sink);
    const first = await hub.publish('note', 'a');
    await hub.publish('change', 1); // filtered out: not folded by this client (the snapshot frame below carries it)
    await hub.setState((s) => ({ ...s, label: 'while filtered' }));
    expect(filtered.frames.map((f) => JSON.parse(f).type)).toEqual(['snapshot', 'event', 'snapshot']);
    expect(filtered.state).toEqual(hub.state);
    // A filtered resume replays the setState frame too.
    const resumed = wireClient(counter);
    resumed.state = initial;
    hub.attach({ lastEventId: first, events: new Set(['note']) }, resumed.sink);
    expect(resumed.state).toEqual(hub.state);
  });

  it('setState sends only the fields it changed, so it never rolls back a field an event changed', async () => {
    const bus = new MemoryBus();
    const published: unknown[] = [];
    const original = bus.publish.bind(bus);
    bus.publish = (event, data, json) => {
      published.push({ event, data });
      return original(event, data, json);
    };
    const hub = createHub(counter, { state: initial, bus });
    await hub.setState((s) => ({ ...s, label: 'x' }));
    expect(published).toEqual([{ event: '~state', data: { s: { label: 'x' } } }]);
    // Another instance's event folds first; the patch applies on top of it.
    bus.publish('change', 7, '7');
    expect(hub.state).toEqual({ seen: [7], label: 'x' });
    await hub.setState({ seen: hub.state.seen } as unknown as CounterState);
    expect(published.at(-1)).toEqual({ event: '~state', data: { s: {}, d: ['label'] } });
    expect(hub.state).toEqual({ seen: [7] });
  });

  it('a reset resumption falls back to a fresh snapshot when a setState frame is no longer held', async () => {
    const hub = createHub(counter, { state: initial, history: 1000 });
    const first = await hub.publish('change', 1);
    for (let i = 0; i < 300; i++) await hub.setState((s) => ({ ...s, label: `l${i}` }));
    const late = wireClient(counter);
    const log: string[] = [];
    hub.attach(
      { lastEventId: first },
      { ...late.sink, reset: (reason) => log.push(`reset:${reason}`), snapshot: (s) => late.sink.snapshot(s) },
    );
    expect(log).toEqual(['reset:history']);
    expect(late.state).toEqual(hub.state);
  });

  it('a reducer that throws leaves the state unchanged and is reported', async () => {
    const contract = defineContract({
      events: { boom: typed<number>() },
      commands: {},
      state: typed<{ n: number }>(),
      reducers: {
        boom: (s, n) => {
          if (n < 0) throw new Error('negative');
          return { n: s.n + n };
        },
      },
    });
    const hub = createHub(contract, { state: { n: 0 } });
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    await hub.publish('boom', 2);
    await hub.publish('boom', -1);
    expect(hub.state).toEqual({ n: 2 });
    expect(errors).toEqual(['reducer "boom"']);
  });

  it('one instance, async validation on: 300 changes while clients attach at random moments — each applied exactly once', async () => {
    const hub = createHub(counter, { state: initial, validateEvents: true });
    const clients: ReturnType<typeof wireClient<typeof counter>>[] = [];
    const pending: Promise<unknown>[] = [];
    let label = 0;
    for (let n = 1; n <= 300; n++) {
      // Not awaited one by one: publishes overlap while their validators run.
      pending.push(hub.publish('change', n));
      if (n % 7 === 0) pending.push(hub.setState((s) => ({ ...s, label: `label ${++label}` })));
      if (Math.random() < 0.15) {
        const client = wireClient(counter);
        clients.push(client);
        hub.attach({}, client.sink);
      }
      if (Math.random() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
    }
    await Promise.all(pending);
    const expected = { seen: Array.from({ length: 300 }, (_, i) => i + 1), label: `label ${label}` };
    expect(hub.state).toEqual(expected);
    expect(clients.length).toBeGreaterThan(10);
    for (const client of clients) expect(client.state).toEqual(expected);
  });

  it('an invalid payload is rejected and emitted, and does not hold up later publishes', async () => {
    const hub = createHub(counter, { state: initial, validateEvents: true });
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    const bad = hub.publish('change', 'x' as unknown as number);
    const good = hub.publish('change', 1);
    await expect(bad).rejects.toMatchObject({ code: 'invalid_payload' });
    await expect(good).resolves.toMatch(/-1$/);
    expect(errors).toHaveLength(1);
    expect(hub.state.seen).toEqual([1]);
  });
});

describe('publish failures: rejected and emitted on error', () => {
  it.each([
    ['unknown event', (hub: ReturnType<typeof makeHub>) => hub.publish('nope' as 'note', 'x'), 'invalid_payload'],
    [
      'non-JSON payload',
      (hub: ReturnType<typeof makeHub>) => hub.publish('note', 1n as unknown as string),
      'invalid_payload',
    ],
    [
      'non-JSON state',
      (hub: ReturnType<typeof makeHub>) => hub.setState({ seen: [], label: 1n as unknown as string }),
      'invalid_payload',
    ],
  ])('%s', async (_name, act, code) => {
    const hub = makeHub();
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    const result = act(hub);
    await expect(result).rejects.toMatchObject({ code });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BoardcastError);
  });

  it('bus failure', async () => {
    const failing = new MemoryBus();
    failing.publish = () => {
      throw new Error('bus down');
    };
    const hub = createHub(counter, { state: initial, bus: failing as Bus });
    const errors: string[] = [];
    hub.on('error', (_e, where) => errors.push(where));
    await expect(hub.publish('note', 'x')).rejects.toThrow('bus down');
    await expect(hub.setState({ seen: [], label: 'y' })).rejects.toThrow('bus down');
    expect(errors).toEqual(['publish', 'setState']);
  });

  it('closed hub', async () => {
    const hub = makeHub();
    await hub.close();
    await expect(hub.publish('note', 'x')).rejects.toMatchObject({ code: 'closed' });
  });
});

function makeHub() {
  return createHub(counter, { state: initial });
}

describe('defineContract checks reducers and reserved names', () => {
  it.each(['snapshot', 'reset', 'keepalive'])('refuses an event named %s', (name) => {
    expect(() => defineContract({ events: { [name]: typed<string>() }, commands: {}, state: typed<null>() })).toThrow(
      /reserved/,
    );
  });

  it('refuses a reducer for no event, or one that is not a function', () => {
    const events = { a: typed<number>() };
    expect(() =>
      defineContract({ events, commands: {}, state: typed<number>(), reducers: { b: (s: number) => s } as never }),
    ).toThrow(/names no event/);
    expect(() =>
      defineContract({ events, commands: {}, state: typed<number>(), reducers: { a: 1 as unknown as () => number } }),
    ).toThrow(/must be a function/);
  });
});
