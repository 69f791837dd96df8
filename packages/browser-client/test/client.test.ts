import { BoardcastError, type Contract, defineContract, typed } from '@boardcast/core';
import type { ServerStatus } from '@boardcast/core/wire';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ClientOptions, createClient, type LinkSink, type Transport } from '../src/client.js';
import type { StatusChange } from '../src/index.js';

/**
 * createClient over a scripted transport: every frame a connection could
 * deliver is driven by the test, so each line of the client (what a frame
 * does to the state, the resume id, the listeners, the promises) is checked
 * without a server. The end-to-end paths over real SSE and WS are in
 * sse.test.ts, ws.test.ts and state-mirror.test.ts.
 */

interface State {
  readonly n: number;
  readonly label: string;
}

const counter = defineContract({
  events: { add: typed<number>(), note: typed<string>() },
  commands: { echo: { input: typed<unknown>(), result: typed<unknown>() } },
  state: typed<State>(),
  reducers: {
    add: (state, n) => {
      // A reducer bug the page did not foresee (the hub skips it the same way).
      if (n < 0) throw new Error('negative');
      return { ...state, n: state.n + n };
    },
  },
});
type Counter = typeof counter extends Contract<infer S> ? S : never;

interface Call {
  readonly name: string;
  readonly input: unknown;
  readonly timeoutMs: number;
  readonly settle: { resolve(value: unknown): void; reject(error: BoardcastError): void };
}

/**
 * As strict as a real transport where the client could tell: `dial` never
 * calls the sink before it returns, an aborted dial delivers nothing more,
 * commands after `stop` reject and `stop` settles every pending one.
 */
function scriptedTransport(name: 'sse' | 'ws' = 'sse') {
  const dials: { lastEventId: string | undefined; sink: LinkSink; aborted: boolean }[] = [];
  const calls: Call[] = [];
  let stopped: BoardcastError | undefined;
  const transport: Transport = {
    name,
    dial(lastEventId, sink) {
      const dial = { lastEventId, sink, aborted: false };
      dials.push(dial);
      return () => {
        dial.aborted = true;
      };
    },
    command(commandName, input, timeoutMs) {
      if (stopped) return Promise.reject(stopped);
      return new Promise((resolve, reject) => {
        calls.push({ name: commandName, input, timeoutMs, settle: { resolve, reject } });
      });
    },
    stop(error) {
      stopped = error;
      for (const call of calls.splice(0)) call.settle.reject(error);
    },
  };
  /** The sink of the live (newest, not aborted) connection. */
  const sink = (): LinkSink => {
    const last = dials.at(-1);
    if (!last || last.aborted) throw new Error('no live connection');
    return last.sink;
  };
  return { transport, dials, calls, sink, stopped: () => stopped };
}

function client(options: ClientOptions<Counter> = {}, name: 'sse' | 'ws' = 'sse') {
  const scripted = scriptedTransport(name);
  const created = createClient<Counter>(counter, scripted.transport, { reconnect: false, ...options });
  return { ...scripted, client: created };
}

/** Lets the promise callbacks queued so far run (no timers involved). */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How `promise` has settled once the callbacks queued so far ran: a promise that should have settled fails the test instead of hanging it. */
async function outcome<T>(promise: Promise<T>) {
  let result: { resolved: T } | { rejected: unknown } | 'pending' = 'pending';
  promise.then(
    (resolved) => {
      result = { resolved };
    },
    (rejected: unknown) => {
      result = { rejected };
    },
  );
  await settled();
  return result;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createClient: frames into the state mirror', () => {
  it('dials at once, names its transport, and resumes from the given lastEventId', () => {
    const { client: c, dials } = client({ lastEventId: 'e-7' }, 'ws');
    expect(c.transport).toBe('ws');
    expect(dials).toHaveLength(1);
    expect(dials[0]?.lastEventId).toBe('e-7');
    expect(c.lastEventId).toBe('e-7');
    expect(c.status).toBe('connecting');
    c.close();
  });

  it('a snapshot replaces the state, moves the resume id and is emitted; no id forgets the id', () => {
    const { client: c, sink } = client({ lastEventId: 'e-1' });
    const snapshots: unknown[] = [];
    c.on('snapshot', (state) => snapshots.push(state));
    const first = { n: 1, label: 'a' };
    sink().open();
    sink().snapshot(first, 'e-5');
    expect(c.state).toBe(first);
    expect(c.getSnapshot()).toBe(first);
    expect(c.lastEventId).toBe('e-5');
    expect(snapshots).toEqual([first]);
    // A server with no events yet sends no id: the next connect must start fresh.
    const second = { n: 0, label: 'b' };
    sink().snapshot(second, null);
    expect(c.state).toBe(second);
    expect(c.lastEventId).toBeUndefined();
    expect(snapshots).toEqual([first, second]);
    c.close();
  });

  it('an event folds through the reducer, moves the resume id and reaches its listeners', () => {
    const { client: c, sink } = client();
    const adds: [number, string][] = [];
    const notes: string[] = [];
    c.on('add', (n, id) => adds.push([n, id]));
    c.on('note', (text) => notes.push(text));
    let notified = 0;
    c.subscribe(() => notified++);
    sink().snapshot({ n: 1, label: 'a' }, 'e-1');
    sink().event('add', 2, 'e-2');
    sink().event('note', 'no reducer', 'e-3');
    expect(c.state).toEqual({ n: 3, label: 'a' });
    expect(c.lastEventId).toBe('e-3');
    expect(adds).toEqual([[2, 'e-2']]);
    expect(notes).toEqual(['no reducer']);
    expect(notified).toBe(2); // the snapshot, the add; the note changed nothing
    c.close();
  });

  it('a reducer that throws keeps the state, emits error invalid_payload naming it, and still emits the event', () => {
    const { client: c, sink } = client();
    const errors: BoardcastError[] = [];
    const adds: number[] = [];
    c.on('error', (error) => errors.push(error));
    c.on('add', (n) => adds.push(n));
    const state = { n: 1, label: 'a' };
    sink().snapshot(state, 'e-1');
    sink().event('add', -1, 'e-2');
    expect(c.state).toBe(state);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BoardcastError);
    expect(errors[0]?.code).toBe('invalid_payload');
    expect(errors[0]?.message).toMatch(/reducer "add" threw/);
    expect(errors[0]?.cause).toMatchObject({ message: 'negative' });
    // The event still counts as received: listeners see it, and a reconnect resumes after it.
    expect(adds).toEqual([-1]);
    expect(c.lastEventId).toBe('e-2');
    // The next event folds onto the kept state.
    sink().event('add', 4, 'e-3');
    expect(c.state).toEqual({ n: 5, label: 'a' });
    c.close();
  });

  it('a reset is emitted with its reason', () => {
    const { client: c, sink } = client();
    const resets: string[] = [];
    c.on('reset', (reason) => resets.push(reason));
    sink().reset('history');
    expect(resets).toEqual(['history']);
    c.close();
  });
});

describe('createClient: whenReady', () => {
  it('waits for the first snapshot, then resolves at once with the current state', async () => {
    const { client: c, sink } = client();
    const early = c.whenReady();
    const first = { n: 1, label: 'a' };
    sink().snapshot(first, 'e-1');
    await expect(early).resolves.toBe(first);
    sink().event('add', 1, 'e-2');
    // Ready already: no waiting for another snapshot, and the state is today's, not the first one.
    expect(await outcome(c.whenReady())).toEqual({ resolved: { n: 2, label: 'a' } });
    c.close();
  });

  it('with an initialState, still waits for the server snapshot', async () => {
    const { client: c, sink } = client({ initialState: { n: 0, label: 'guess' } });
    expect(c.state).toEqual({ n: 0, label: 'guess' });
    const ready = c.whenReady();
    expect(await outcome(ready)).toBe('pending');
    sink().snapshot({ n: 9, label: 'server' }, 'e-1');
    expect(await outcome(ready)).toEqual({ resolved: { n: 9, label: 'server' } });
    c.close();
  });

  it('pending callers reject with the stop rule error when the client stops before any snapshot', async () => {
    const { client: c, sink } = client();
    const pending = c.whenReady();
    const refused = new BoardcastError('forbidden', 'not allowed');
    sink().drop(refused, true);
    await expect(pending).rejects.toBe(refused);
    expect(c.status).toBe('closed');
    expect(c.error).toBe(refused);
    // Asked again once closed: the same error, not a wait for ever.
    expect(await outcome(c.whenReady())).toEqual({ rejected: refused });
  });

  it('on a client closed by close(), rejects with closed', async () => {
    const { client: c } = client();
    const pending = c.whenReady();
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    expect(c.error).toBeUndefined();
    expect(await outcome(c.whenReady())).toMatchObject({ rejected: { code: 'closed' } });
  });

  it('after a snapshot, still resolves with the last state once closed', async () => {
    const { client: c, sink } = client();
    sink().snapshot({ n: 3, label: 'a' }, 'e-1');
    c.close();
    expect(await outcome(c.whenReady())).toEqual({ resolved: { n: 3, label: 'a' } });
  });
});

describe('createClient: status and server listeners', () => {
  it('onStatus reports each change, and its unsubscribe stops it', () => {
    const { client: c, sink } = client();
    const changes: StatusChange[] = [];
    const off = c.onStatus((change) => changes.push(change));
    sink().open();
    expect(c.status).toBe('open');
    expect(changes).toEqual([{ status: 'open', attempt: 0, delayMs: undefined, error: undefined }]);
    off();
    c.close();
    expect(c.status).toBe('closed');
    expect(changes).toHaveLength(1);
  });

  it('onServer reports a change of the server status, not a repeat, and its unsubscribe stops it', () => {
    const { client: c, sink } = client();
    expect(c.server).toEqual({ bus: 'ok' });
    const seen: ServerStatus[] = [];
    const off = c.onServer((status) => seen.push(status));
    sink().server({ bus: 'ok' });
    sink().server({ bus: 'degraded' });
    sink().server({ bus: 'degraded' });
    expect(c.server).toEqual({ bus: 'degraded' });
    expect(seen).toEqual([{ bus: 'degraded' }]);
    off();
    sink().server({ bus: 'ok' });
    expect(c.server).toEqual({ bus: 'ok' });
    expect(seen).toEqual([{ bus: 'degraded' }]);
    c.close();
  });

  it('errors the connection reports reach on("error")', () => {
    const { client: c, sink } = client();
    const errors: string[] = [];
    c.on('error', (error) => errors.push(error.code));
    sink().error(new BoardcastError('invalid_payload', 'bad frame'));
    expect(errors).toEqual(['invalid_payload']);
    c.close();
  });
});

describe('createClient: commands', () => {
  it('passes name and input through, with the default timeout of 10 s', async () => {
    const { client: c, calls } = client();
    const result = c.command('echo', { x: 1 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'echo', input: { x: 1 }, timeoutMs: 10_000 });
    calls[0]?.settle.resolve('done');
    await expect(result).resolves.toBe('done');
    c.close();
  });

  it('commandTimeoutMs replaces the default, and a per-command timeout replaces both', async () => {
    const { client: c, calls } = client({ commandTimeoutMs: 2500 });
    void c.command('echo', 1).catch(() => undefined);
    void c.command('echo', 2, { timeout: 400 }).catch(() => undefined);
    void c.command('echo', 3, {}).catch(() => undefined);
    expect(calls.map((call) => call.timeoutMs)).toEqual([2500, 400, 2500]);
    const plain = client();
    void plain.client.command('echo', 4, { timeout: 700 }).catch(() => undefined);
    expect(plain.calls.map((call) => call.timeoutMs)).toEqual([700]);
    c.close();
    plain.client.close();
  });

  it('close() rejects the pending commands with closed, and a command on a closed client rejects at once', async () => {
    const { client: c, transport, stopped } = client();
    const pending = c.command('echo', 1);
    c.close();
    expect(stopped()?.code).toBe('closed');
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    const spy = vi.spyOn(transport, 'command');
    await expect(c.command('echo', 2)).rejects.toMatchObject({ code: 'closed', message: 'client closed' });
    // Refused by the client itself: it never reached the transport.
    expect(spy).not.toHaveBeenCalled();
  });

  it('a command on a client a stop rule closed rejects with closed too', async () => {
    const { client: c, sink, transport } = client();
    const spy = vi.spyOn(transport, 'command');
    sink().drop(new BoardcastError('unauthorized', 'who are you'), true);
    await expect(c.command('echo', 1)).rejects.toMatchObject({ code: 'closed' });
    expect(spy).not.toHaveBeenCalled();
  });
});
