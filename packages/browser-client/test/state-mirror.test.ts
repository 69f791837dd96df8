import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, defineContract, typed } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import { type BoardcastClient, connect, createStateMirror } from '../src/index.js';
import { cleanups, runCleanups, until } from './helpers.js';

interface State {
  readonly seen: readonly number[];
  readonly label: string;
  readonly led: { readonly on: boolean };
}

const counter = defineContract({
  events: { change: typed<number>(), led: typed<{ on: boolean }>(), note: typed<string>() },
  commands: {},
  state: typed<State>(),
  reducers: {
    change: (state, n) => ({ ...state, seen: [...state.seen, n] }),
    led: (state, led) => ({ ...state, led }),
  },
});
const initial: State = { seen: [], label: 'start', led: { on: false } };

afterEach(runCleanups);

describe('createStateMirror', () => {
  it('folds events through the contract reducers, nothing else', () => {
    const mirror = createStateMirror(counter);
    mirror.apply('change', 1); // before any snapshot: nothing to fold onto
    expect(mirror.getSnapshot()).toBeUndefined();
    mirror.replace(initial);
    mirror.apply('change', 1);
    mirror.apply('led', { on: true });
    expect(mirror.getSnapshot()).toEqual({ seen: [1], label: 'start', led: { on: true } });
    expect(initial.seen).toEqual([]); // the snapshot object was not mutated
    // An event without a reducer leaves the very same object (no notification).
    const before = mirror.getSnapshot();
    let calls = 0;
    mirror.subscribe(() => calls++);
    mirror.apply('note', 'hello');
    expect(mirror.getSnapshot()).toBe(before);
    expect(calls).toBe(0);
  });

  it('takes just the event names and reducers as a value (no schemas)', () => {
    const mirror = createStateMirror<typeof counter>(
      { events: { change: 1, led: 1, note: 1 }, reducers: counter.reducers },
      { initialState: initial },
    );
    mirror.apply('change', 7);
    expect(mirror.getSnapshot()?.seen).toEqual([7]);
  });

  it('notifies once per change, has a stable getSnapshot, survives a throwing subscriber', () => {
    const mirror = createStateMirror(counter, { initialState: initial });
    const { getSnapshot, subscribe } = mirror; // unbound use, as useSyncExternalStore does
    expect(getSnapshot()).toBe(getSnapshot());
    let good = 0;
    const original = console.error;
    console.error = () => undefined;
    try {
      subscribe(() => {
        throw new Error('ui bug');
      });
      subscribe(() => good++);
      mirror.apply('change', 1);
      expect(good).toBe(1); // one change, one notification
      mirror.replace({ ...initial, label: 'x' });
      expect(good).toBe(2);
      // No-op changes notify nobody: the very same state again, an event without a reducer.
      const same = getSnapshot();
      mirror.replace(same as State);
      mirror.apply('note', 'no reducer');
      expect(getSnapshot()).toBe(same);
    } finally {
      console.error = original;
    }
    expect(good).toBe(2);
  });

  it('an unsubscribed listener is not called again', () => {
    const mirror = createStateMirror(counter, { initialState: initial });
    let calls = 0;
    const unsubscribe = mirror.subscribe(() => calls++);
    mirror.apply('change', 1);
    unsubscribe();
    mirror.apply('change', 2);
    expect(calls).toBe(1);
  });

  it('with no reducers at all (a names-only value), keeps each snapshot as it is', () => {
    const mirror = createStateMirror<typeof counter>({ events: { change: 1, led: 1, note: 1 } });
    mirror.replace(initial);
    mirror.apply('change', 1);
    expect(mirror.getSnapshot()).toBe(initial);
  });

  it('an event named like an Object.prototype method folds through no inherited function', () => {
    // Event names are any [A-Za-z]…: `toString` is a legal one, and only an own reducer may fold it.
    const contract = defineContract({
      events: { toString: typed<number>(), n: typed<number>() },
      commands: {},
      state: typed<{ n: number }>(),
      // Cast: ReducerMap takes the `toString` every object inherits for a reducer of that event.
      reducers: { n: (s: { n: number }, n: number) => ({ n: s.n + n }) } as never,
    });
    const state = { n: 1 };
    const mirror = createStateMirror(contract, { initialState: state });
    mirror.apply('toString', 2);
    expect(mirror.getSnapshot()).toBe(state);
  });

  it('calls subscribers with no arguments, as useSyncExternalStore expects of a store', () => {
    const mirror = createStateMirror(counter, { initialState: initial });
    const calls: unknown[][] = [];
    mirror.subscribe((...args: unknown[]) => calls.push(args));
    mirror.apply('change', 1);
    expect(calls).toEqual([[]]);
  });

  it('a reducer that throws leaves the state unchanged and throws to the caller', () => {
    const contract = defineContract({
      events: { n: typed<number>() },
      commands: {},
      state: typed<number>(),
      reducers: {
        n: (s, n) => {
          if (n < 0) throw new Error('negative');
          return s + n;
        },
      },
    });
    const mirror = createStateMirror(contract, { initialState: 1 });
    expect(() => mirror.apply('n', -1)).toThrow('negative');
    expect(mirror.getSnapshot()).toBe(1);
  });
});

/** Hub + SSE + WS on 127.0.0.1, reached through a proxy that can cut every link. */
async function server(history: number) {
  const hub = createHub(counter, { state: initial, history });
  const api = boardcastHttp(hub, { base: '/api', sse: { retry: 100 } });
  const http = createServer(api.node);
  const ws = createWsEndpoint(hub, { server: http, path: '/api/ws' });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const proxy = await startTcpProxy((http.address() as AddressInfo).port);
  cleanups.push(async () => {
    await proxy.close();
    api.close();
    await ws.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await hub.close();
  });
  return { hub, url: `http://127.0.0.1:${proxy.port}/api`, proxy };
}

const transports = [
  ['sse', { transport: 'sse', eventSource: 'fetch' }],
  ['ws', { transport: 'ws', WebSocket }],
] as const;

describe.each(transports)('the mirror over %s', (_name, transportOptions) => {
  function open(url: string, reconnect = true): BoardcastClient<typeof counter> {
    const client = connect(url, counter, {
      ...transportOptions,
      reconnect: reconnect ? { initialDelayMs: 20, maxDelayMs: 50 } : false,
    } as never) as BoardcastClient<typeof counter>;
    cleanups.push(() => client.close());
    return client;
  }

  it('folds the same reducers as the hub, and setState arrives in its place', async () => {
    const { hub, url } = await server(100);
    const client = open(url);
    const state = await client.whenReady();
    expect(state).toEqual(initial);
    for (let n = 1; n <= 5; n++) await hub.publish('change', n);
    await hub.setState((s) => ({ ...s, label: 'renamed' }));
    await hub.publish('led', { on: true });
    await until(() => client.lastEventId === hub.headId);
    expect(client.state).toEqual(hub.state);
    expect(client.state).toEqual({ seen: [1, 2, 3, 4, 5], label: 'renamed', led: { on: true } });
  });

  it('a client resuming across a reset ends with the same state as a fresh client', async () => {
    const { hub, url, proxy } = await server(10);
    const resumed = open(url);
    const resets: string[] = [];
    resumed.on('reset', (reason) => resets.push(reason));
    await resumed.whenReady();
    for (let n = 1; n <= 3; n++) await hub.publish('change', n);
    await until(() => resumed.lastEventId === hub.headId);
    const before = resumed.lastEventId;

    proxy.cut(); // the link drops; while it reconnects, history moves past it
    for (let n = 4; n <= 40; n++) await hub.publish('change', n);
    await hub.setState((s) => ({ ...s, label: 'during the outage' }));
    await until(() => resets.length === 1 && resumed.lastEventId === hub.headId);
    expect(resumed.lastEventId).not.toBe(before);

    const fresh = open(url);
    await fresh.whenReady();
    for (let n = 41; n <= 45; n++) await hub.publish('change', n);
    await hub.publish('led', { on: true });
    await until(() => resumed.lastEventId === hub.headId && fresh.lastEventId === hub.headId);
    expect(resets).toEqual(['history']);
    expect(resumed.state).toEqual(fresh.state);
    expect(resumed.state).toEqual(hub.state);
    expect(hub.state.seen).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
  });

  it('a client resuming within history gets each missed change once', async () => {
    const { hub, url, proxy } = await server(100);
    const client = open(url);
    await client.whenReady();
    await hub.publish('change', 1);
    await until(() => client.lastEventId === hub.headId);
    proxy.cut();
    for (let n = 2; n <= 20; n++) await hub.publish('change', n);
    await hub.setState((s) => ({ ...s, label: 'resumed' }));
    await hub.publish('change', 21);
    await until(() => client.lastEventId === hub.headId);
    expect(client.state).toEqual(hub.state);
    expect(client.state?.seen).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('whenReady rejects when the client stops before any snapshot', async () => {
    const client = open('http://127.0.0.1:1/api', false);
    await expect(client.whenReady()).rejects.toMatchObject({ code: 'network_error' });
  });
});
