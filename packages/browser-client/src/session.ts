import { BoardcastError } from '@boardcast/core';
import type { ServerStatus } from '@boardcast/core/wire';
import { backoffDelay, type ReconnectOptions, STABLE_CONNECTION_MS } from './backoff.js';
import type { ChannelDial, ChannelSink, ChannelTransport } from './channel-link.js';
import type { Status } from './client.js';
import { callAll, type Listener } from './listeners.js';

/**
 * The stream frames a session hands on, already checked to belong to the
 * current connection. `channelEvent` returns the id the event moves the
 * position to (`null`: none, a catch-up replay).
 */
export interface StreamSink extends Pick<ChannelSink, 'channelSnapshot' | 'channelReset' | 'forbidden' | 'started'> {
  channelEvent(channel: string, name: string, data: unknown, id: string | null): string | null;
}

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

export const closedError = (): BoardcastError => new BoardcastError('closed', 'client closed');

/**
 * Built from closures rather than a class: `#private` names survive
 * minification and this file is most of the SSE entry's size budget.
 */
export function createSession(
  transport: ChannelTransport,
  options: { readonly reconnect?: ReconnectOptions | false | undefined },
  stream: StreamSink,
  /** Called when the client stops: reject what waits for a first snapshot. */
  stopped: (error: BoardcastError) => void,
  /** The set to ask for on each new connection. */
  channels: () => ChannelDial,
  /** The connection skipped an over-large event: the stream cannot be trusted to fold on, start every channel over. */
  skipped: () => void,
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
    position: undefined,
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
    const sink = {
      open: live(() => {
        // The backoff starts over only once the connection has proved itself.
        stable = setTimeout(() => {
          attempt = 0;
        }, STABLE_CONNECTION_MS);
        setStatus('open');
      }),
      channelSnapshot: live((channel: string, state: unknown, id: string | null) => {
        // At the connection's position, which only grows (null: the bus has no event yet).
        if (id) session.position = id;
        stream.channelSnapshot(channel, state, id);
      }),
      channelEvent: live((channel: string, name: string, data: unknown, id: string | null) => {
        const at = stream.channelEvent(channel, name, data, id);
        if (at) session.position = at;
      }),
      channelReset: live(stream.channelReset),
      forbidden: live(stream.forbidden),
      started: live(stream.started),
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
      // An event over maxEventSize skipped in place: which channel it was is
      // not known, so every channel starts over from a fresh snapshot.
      skip: live((id: string, name: string, size: number) => {
        emit(
          'error',
          new BoardcastError(
            'payload_too_large',
            `event "${name}" (id ${id}, ${size} characters) exceeded maxEventSize`,
          ),
        );
        session.position = undefined;
        skipped();
        session.redial();
      }),
      // Single-stream frames never come on a channel connection.
      snapshot() {},
      event() {},
      reset() {},
    };
    const stop = transport.dial(session.position, sink as unknown as ChannelSink, false, channels());
    if (mine === generation) abort = stop;
    else stop();
  }

  return session;
}
