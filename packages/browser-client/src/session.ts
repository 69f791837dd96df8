import { BoardcastError } from '@boardcast/core';
import type { ServerStatus } from '@boardcast/core/wire';
import { backoffDelay, type ReconnectOptions, STABLE_CONNECTION_MS } from './backoff.js';
import { callAll, type Listener } from './listeners.js';

/**
 * The connection loop both clients share: dial, status, backoff and stop
 * rules, the resume position, server status, listeners, close. What the
 * frames mean (one mirror, or one per channel) is the caller's `stream`.
 */
export interface Session {
  readonly status: Status;
  readonly error: BoardcastError | undefined;
  readonly server: ServerStatus;
  /** The id a new connection resumes from. */
  position: string | undefined;
  on(event: string, listener: Listener): () => void;
  emit(event: string, ...args: unknown[]): void;
  /** Open the first connection. */
  start(): void;
  /**
   * Stop reading the current connection where it is and open a new one at
   * once, resuming from {@link position}: how an SSE client changes its set.
   * While waiting to retry it only makes the pending attempt use the new set.
   */
  redial(): void;
  /** Stop for good (`error`: why; absent: `close()`). */
  finish(error?: BoardcastError): void;
}

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

export const closedError = (): BoardcastError => new BoardcastError('closed', 'client closed');

/**
 * What a session dials through: either client's transport. (Typed loosely
 * so this module imports neither client: the sink and the set are theirs.)
 */
interface Dialer {
  dial(lastEventId: string | undefined, sink: never, side?: boolean, channels?: never): () => void;
  stop(error: BoardcastError): void;
}

/**
 * Built from closures rather than a class: `#private` names survive
 * minification and this file is most of the SSE entry's size budget.
 *
 * `stream` holds the frame methods of the sink (`snapshot`/`event`/`reset`
 * for a single stream; `channelSnapshot`, `channelEvent`, … for channels);
 * each is called only while its connection is the current one, and moves
 * {@link Session.position} itself.
 */
export function createSession(
  transport: Dialer,
  options: {
    readonly reconnect?: ReconnectOptions | false | undefined;
    readonly lastEventId?: string | undefined;
  },
  // biome-ignore lint/suspicious/noExplicitAny: frame methods of either sink, each wrapped as it is
  stream: Record<string, (...args: any[]) => unknown>,
  /** Called when the client stops: reject what waits for a first snapshot. */
  stopped: (error: BoardcastError) => void,
  /** The set to ask for on each new connection (channel clients); absent: a single stream. */
  channels?: () => unknown,
): Session {
  const listeners = new Map<string, Set<Listener>>();
  let status: Status = 'connecting';
  let lastError: BoardcastError | undefined;
  let server: ServerStatus = { bus: 'ok' };
  let attempt = 0;
  let retryMs: number | undefined;
  let generation = 0;
  let abort: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stable: ReturnType<typeof setTimeout> | undefined;
  /** A retry is scheduled (no attempt in flight): it will read the set when it dials. */
  let waiting = false;

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
  const finish = (error?: BoardcastError) => {
    if (status === 'closed') return;
    lastError = error;
    const why = error ?? closedError();
    stopped(why);
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
    waiting = true;
    timer = setTimeout(dial, delay);
  };

  const session: Session = {
    get status() {
      return status;
    },
    get error() {
      return lastError;
    },
    get server() {
      return server;
    },
    position: options.lastEventId,
    on,
    emit,
    start: dial,
    redial() {
      // Waiting to retry: the pending attempt reads the set when it dials.
      if (status === 'closed' || waiting) return;
      teardown();
      dial();
    },
    finish,
  };

  function dial() {
    waiting = false;
    const mine = ++generation;
    // Every callback checks it still belongs to the current connection, so a
    // late frame from a replaced socket can never touch state.
    const live =
      <A extends unknown[]>(f: (...args: A) => unknown) =>
      (...args: A) => {
        if (mine === generation) f(...args);
      };
    const sink: Record<string, unknown> = {
      open: live(() => {
        // The backoff starts over only once the connection has proved itself.
        stable = setTimeout(() => {
          attempt = 0;
        }, STABLE_CONNECTION_MS);
        setStatus('open');
      }),
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
        if (fresh) session.position = undefined;
        emit('error', error);
        (fatal ? finish : schedule)(error);
      }),
    };
    for (const [name, method] of Object.entries(stream)) sink[name] = live(method);
    const stop = channels
      ? transport.dial(session.position, sink as never, false, channels() as never)
      : transport.dial(session.position, sink as never);
    if (mine === generation) abort = stop;
    else stop();
  }

  return session;
}
