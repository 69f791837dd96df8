import {
  BoardcastError,
  type ClientContract,
  type CommandInput,
  type CommandName,
  type CommandResult,
  type Contract,
  type ContractSpec,
  type EventData,
  type EventName,
  type StateOf,
} from '@boardcast/core';
import type { ServerStatus } from '@boardcast/core/wire';
import { backoffDelay, type ReconnectOptions, STABLE_CONNECTION_MS } from './backoff.js';
import { callAll, type Listener } from './listeners.js';
import { createStateMirror, type StateMirrorOptions } from './state-mirror.js';

export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StatusChange {
  readonly status: Status;
  /**
   * Consecutive connections that failed or did not stay open for
   * `STABLE_CONNECTION_MS` (5 s); the backoff grows with it.
   */
  readonly attempt: number;
  /** While `reconnecting`: how long until the next attempt. */
  readonly delayMs?: number | undefined;
  /** Why the connection dropped or, with `closed`, why retrying stopped (absent after `close()`). */
  readonly error?: BoardcastError | undefined;
}

/** Options both transports share. */
export interface ClientOptions<C extends ContractSpec> extends StateMirrorOptions<C> {
  /** Receive only these events (`?events=a,b`); default all. */
  readonly events?: readonly EventName<C>[] | undefined;
  /** Default timeout for `command()` in ms (default 10000). */
  readonly commandTimeoutMs?: number | undefined;
  /** Backoff and stop rules; `false` never reconnects. */
  readonly reconnect?: ReconnectOptions | false | undefined;
  /** Resume from this event id on the first connection (e.g. one kept in sessionStorage). */
  readonly lastEventId?: string | undefined;
}

export interface CommandOptions {
  /** Milliseconds before the promise rejects with `timeout` (default `commandTimeoutMs`). */
  readonly timeout?: number;
}

/** One client type for both transports: a page switches with a flag. */
export interface BoardcastClient<C extends ContractSpec> {
  readonly transport: 'sse' | 'ws';
  readonly status: Status;
  /**
   * The mirrored state: the latest snapshot with every event since folded
   * through the contract's reducers. `undefined` before the first snapshot
   * (unless `initialState` was given); `await client.whenReady()` gives it
   * typed without `undefined`.
   */
  readonly state: StateOf<C> | undefined;
  /**
   * Resolves with the state once the first snapshot has arrived (at once if
   * it has): `const { led } = await client.whenReady()`. Rejects with the
   * client's error (or `closed`) if the client stops before any snapshot.
   */
  whenReady(): Promise<StateOf<C>>;
  /** Id of the newest event received: what a reconnect resumes from. */
  readonly lastEventId: string | undefined;
  /** Why the client is `closed` when a stop rule ended it; `undefined` after `close()`. */
  readonly error: BoardcastError | undefined;
  on<K extends EventName<C>>(event: K, listener: (data: EventData<C, K>, id: string) => void): () => void;
  /**
   * A snapshot arrived (first connect, after a `reset`, or a server
   * `hub.setState`, which is sent as a snapshot at its place among the
   * events); `state` already holds it.
   */
  on(event: 'snapshot', listener: (state: StateOf<C>) => void): () => void;
  /** The server could not replay what was missed; a fresh `snapshot` follows and replaces the state. */
  on(event: 'reset', listener: (reason: string) => void): () => void;
  /** Anything that went wrong that no promise reports (drops, bad frames, refused connections). */
  on(event: 'error', listener: (error: BoardcastError) => void): () => void;
  /** Called on every status change and on every scheduled retry. */
  onStatus(listener: (change: StatusChange) => void): () => void;
  /**
   * What the server says about itself, beside the connection's `status`:
   * `{ bus: 'degraded' }` while it cannot reach its shared bus (Redis down:
   * its state may be stale and commands fail with `bus_unavailable`),
   * `{ bus: 'ok' }` otherwise (and before a server has said anything). Kept
   * across reconnects; a server on a shared bus repeats it on every stream.
   */
  readonly server: ServerStatus;
  /** Called when {@link server} changes. */
  onServer(listener: (status: ServerStatus) => void): () => void;
  /** Bound; for `useSyncExternalStore(client.subscribe, client.getSnapshot)`. */
  readonly subscribe: (listener: () => void) => () => void;
  readonly getSnapshot: () => StateOf<C> | undefined;
  command<K extends CommandName<C>>(
    name: K,
    input: CommandInput<C, K>,
    options?: CommandOptions,
  ): Promise<CommandResult<C, K>>;
  /** Stop for good: pending commands reject with `closed`. */
  close(): void;
}

/** What a transport reports about one connection attempt. */
export interface LinkSink {
  open(): void;
  snapshot(state: unknown, id: string | null): void;
  event(name: string, data: unknown, id: string): void;
  reset(reason: string): void;
  /** A server status frame (SSE `~status`, WS `status`). */
  server(status: ServerStatus): void;
  retry(ms: number): void;
  error(error: BoardcastError): void;
  /**
   * The connection ended; `fatal` stops retrying (204, 401, 403 …); `fresh`
   * forgets the resume id, so the next connection starts with a snapshot (an
   * id the server refused, an event over the size limit: resuming from that
   * id would be refused the same way).
   */
  drop(error: BoardcastError, fatal?: boolean, fresh?: boolean): void;
}

export interface Transport {
  readonly name: 'sse' | 'ws';
  /** Open one connection; returns its abort function. Must not call `sink` synchronously. */
  dial(lastEventId: string | undefined, sink: LinkSink): () => void;
  command(name: string, input: unknown, timeoutMs: number): Promise<unknown>;
  /** The client is closed: settle everything outstanding with `error`. */
  stop(error: BoardcastError): void;
}

/**
 * Built from closures rather than a class: `#private` names survive
 * minification and this file is most of the SSE entry's size budget.
 */
export function createClient<C extends ContractSpec>(
  contract: Contract<C> | C | ClientContract<C>,
  transport: Transport,
  options: ClientOptions<C>,
): BoardcastClient<C> {
  const mirror = createStateMirror<C>(contract, options);
  // whenReady() callers, until the first snapshot (then `undefined`: ready).
  let waiting: [(state: StateOf<C>) => void, (error: BoardcastError) => void][] | undefined = [];
  const listeners = new Map<string, Set<Listener>>();
  let status: Status = 'connecting';
  let lastId = options.lastEventId;
  let lastError: BoardcastError | undefined;
  let server: ServerStatus = { bus: 'ok' };
  let attempt = 0;
  let retryMs: number | undefined;
  let generation = 0;
  let abort: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stable: ReturnType<typeof setTimeout> | undefined;

  const on = (event: string, listener: Listener) => {
    const set = listeners.get(event) ?? new Set();
    listeners.set(event, set.add(listener));
    return () => {
      set.delete(listener);
    };
  };
  const emit = (event: string, ...args: unknown[]) => callAll(listeners.get(event), args);
  const setStatus = (next: Status, delayMs?: number, error?: BoardcastError) => {
    if (next === status && delayMs === undefined) return;
    status = next;
    emit('\0status', { status, attempt, delayMs, error });
  };
  const teardown = () => {
    generation++;
    clearTimeout(timer);
    clearTimeout(stable);
    abort?.();
    abort = undefined;
  };
  const closedError = () => new BoardcastError('closed', 'client closed');
  const finish = (error?: BoardcastError) => {
    if (status === 'closed') return;
    lastError = error;
    const why = error ?? closedError();
    for (const [, reject] of waiting ?? []) reject(why);
    // Before teardown, so commands in flight report why the client ended.
    transport.stop(why);
    teardown();
    setStatus('closed', undefined, error);
  };
  const schedule = (error: BoardcastError) => {
    const policy = options.reconnect;
    if (policy === false || attempt >= (policy?.maxAttempts ?? Number.POSITIVE_INFINITY)) return finish(error);
    const delay = backoffDelay(attempt++, retryMs ?? policy?.initialDelayMs ?? 1000, policy?.maxDelayMs ?? 30_000);
    setStatus('reconnecting', delay, error);
    timer = setTimeout(dial, delay);
  };

  function dial() {
    const mine = ++generation;
    // Every callback checks it still belongs to the current connection, so a
    // late frame from a replaced socket can never touch state.
    const live =
      <A extends unknown[]>(f: (...args: A) => unknown) =>
      (...args: A) => {
        if (mine === generation) f(...args);
      };
    const stop = transport.dial(lastId, {
      open: live(() => {
        // The backoff starts over only once the connection has proved itself.
        stable = setTimeout(() => {
          attempt = 0;
        }, STABLE_CONNECTION_MS);
        setStatus('open');
      }),
      snapshot: live((state: unknown, id: string | null) => {
        // No id means "no events yet": the next connect must be a fresh one.
        lastId = id ?? undefined;
        mirror.replace(state as StateOf<C>);
        for (const [resolve] of waiting ?? []) resolve(state as StateOf<C>);
        waiting = undefined;
        emit('snapshot', state);
      }),
      event: live((name: string, data: unknown, id: string) => {
        lastId = id;
        try {
          mirror.apply(name as EventName<C>, data as EventData<C, EventName<C>>);
        } catch (cause) {
          // The hub skipped this reducer too (it threw there as well): the state still agrees.
          emit('error', new BoardcastError('invalid_payload', `reducer "${name}" threw`, { cause }));
        }
        emit(name, data, id);
      }),
      reset: live((reason: string) => emit('reset', reason)),
      server: live((next: ServerStatus) => {
        if (next.bus === server.bus) return;
        server = next;
        emit('\0server', next);
      }),
      retry: live((ms: number) => {
        retryMs = ms;
      }),
      error: live((error: BoardcastError) => emit('error', error)),
      drop: live((error: BoardcastError, fatal?: boolean, fresh?: boolean) => {
        teardown();
        if (fresh) lastId = undefined;
        emit('error', error);
        (fatal ? finish : schedule)(error);
      }),
    });
    if (mine === generation) abort = stop;
    else stop();
  }

  dial();
  return {
    transport: transport.name,
    get status() {
      return status;
    },
    get state() {
      return mirror.getSnapshot();
    },
    whenReady: () =>
      new Promise<StateOf<C>>((resolve, reject) => {
        if (!waiting) resolve(mirror.getSnapshot() as StateOf<C>);
        else if (status === 'closed') reject(lastError ?? closedError());
        else waiting.push([resolve, reject]);
      }),
    get lastEventId() {
      return lastId;
    },
    get error() {
      return lastError;
    },
    on: on as BoardcastClient<C>['on'],
    onStatus: (listener) => on('\0status', listener),
    get server() {
      return server;
    },
    onServer: (listener) => on('\0server', listener),
    subscribe: mirror.subscribe,
    getSnapshot: mirror.getSnapshot,
    command(name, input, commandOptions = {}) {
      if (status === 'closed') return Promise.reject(closedError());
      const timeout = commandOptions.timeout ?? options.commandTimeoutMs ?? 10_000;
      return transport.command(name, input, timeout) as Promise<CommandResult<C, typeof name>>;
    },
    close: () => finish(),
  };
}
