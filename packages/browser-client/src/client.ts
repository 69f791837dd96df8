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
import type { ReconnectOptions } from './backoff.js';
import { closedError, createSession, type Status, type StatusChange } from './session.js';
import { createStateMirror, type StateMirrorOptions } from './state-mirror.js';

export type { Status, StatusChange } from './session.js';

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
 * The single-stream client: a {@link createSession} connection loop whose
 * frames fold into one state mirror.
 */
export function createClient<C extends ContractSpec>(
  contract: Contract<C> | C | ClientContract<C>,
  transport: Transport,
  options: ClientOptions<C>,
): BoardcastClient<C> {
  const mirror = createStateMirror<C>(contract, options);
  // whenReady() callers, until the first snapshot (then `undefined`: ready).
  let waiting: [(state: StateOf<C>) => void, (error: BoardcastError) => void][] | undefined = [];
  const frames: Pick<LinkSink, 'snapshot' | 'event' | 'reset'> = {
    snapshot(state, id) {
      // No id means "no events yet": the next connect must be a fresh one.
      session.position = id ?? undefined;
      mirror.replace(state as StateOf<C>);
      for (const [resolve] of waiting ?? []) resolve(state as StateOf<C>);
      waiting = undefined;
      session.emit('snapshot', state);
    },
    event(name, data, id) {
      session.position = id;
      try {
        mirror.apply(name as EventName<C>, data as EventData<C, EventName<C>>);
      } catch (cause) {
        // The hub skipped this reducer too (it threw there as well): the state still agrees.
        session.emit('error', new BoardcastError('invalid_payload', `reducer "${name}" threw`, { cause }));
      }
      session.emit(name, data, id);
    },
    reset: (reason) => session.emit('reset', reason),
  };
  const session = createSession(transport, options, frames, (why) => {
    for (const [, reject] of waiting ?? []) reject(why);
  });
  session.start();
  return {
    transport: transport.name,
    get status() {
      return session.status;
    },
    get state() {
      return mirror.getSnapshot();
    },
    whenReady: () =>
      new Promise<StateOf<C>>((resolve, reject) => {
        if (!waiting) resolve(mirror.getSnapshot() as StateOf<C>);
        else if (session.status === 'closed') reject(session.error ?? closedError());
        else waiting.push([resolve, reject]);
      }),
    get lastEventId() {
      return session.position;
    },
    get error() {
      return session.error;
    },
    on: session.on as BoardcastClient<C>['on'],
    onStatus: (listener) => session.on('\0status', listener),
    get server() {
      return session.server;
    },
    onServer: (listener) => session.on('\0server', listener),
    subscribe: mirror.subscribe,
    getSnapshot: mirror.getSnapshot,
    command(name, input, commandOptions = {}) {
      if (session.status === 'closed') return Promise.reject(closedError());
      const timeout = commandOptions.timeout ?? options.commandTimeoutMs ?? 10_000;
      return transport.command(name, input, timeout) as Promise<CommandResult<C, typeof name>>;
    },
    close: () => session.finish(),
  };
}
