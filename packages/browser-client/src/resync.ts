import { BoardcastError } from '@boardcast/core';

/** What a transport's connection reports to the client (the part of its sink the skipper uses). */
export interface SkipperSink {
  snapshot(state: unknown, id: string | null): void;
  reset(reason: string): void;
  error(error: BoardcastError): void;
}

/** One connection's handling of events over `maxEventSize`. */
export interface Skipper {
  /** Event `id` (named `name`, `size` characters) was over the limit and was not delivered. */
  skip(id: string, name: string, size: number): void;
  /** Event `id` was delivered on the connection (after the sink had it). */
  event(id: string, name: string, data: unknown): void;
  /**
   * A whole snapshot arrived on the connection, or the connection ended.
   * True when the state was still being mended: the next connection must
   * then start fresh (reset + snapshot) rather than resume.
   */
  stop(): boolean;
}

/** Events kept while waiting for the side snapshot; past it, give up and come back fresh. */
const MAX_LOG = 10_000;

/**
 * Skip exactly one over-large event, per connection. The connection goes
 * on: every event after it reaches the page once, in order — nothing is
 * replayed or dropped (before, the client reconnected without its id and
 * the events published meanwhile never reached `on(...)` listeners). Only
 * the state needs mending, and only when the contract has a reducer for the
 * skipped event: `reset` (`too_large`), then `take` opens a side connection
 * for one fresh snapshot (id H: the state after H) and closes it; the
 * events this connection delivered since the skip are kept, and once H is
 * among them the state becomes that snapshot with the kept events after H
 * folded on top by the contract's reducers, handed on as one `snapshot` at
 * the newest id. H is never older than the skipped event: the server folds
 * an event before it sends it. `fail` comes back fresh (as before) when the
 * side connection fails or H does not show up within {@link MAX_LOG} events.
 */
export function createSkipper(
  reducers: object | undefined,
  take: () => Promise<{ readonly state: unknown; readonly id: string }>,
  sink: SkipperSink,
  fail: (error: BoardcastError) => void,
): Skipper {
  const table = (reducers ?? {}) as Record<string, ((state: unknown, data: unknown) => unknown) | undefined>;
  /** [id] of a skipped event, or [id, name, data] of a delivered one, since the skip being mended. */
  let log: [string, string?, unknown?][] | undefined;
  let found: { readonly state: unknown; readonly id: string } | undefined;
  /** Ignores a side snapshot that arrives after a newer skip or a stop. */
  let round = 0;

  const settle = () => {
    const at = found && log ? log.findIndex(([id]) => id === found?.id) : -1;
    if (!found || !log || at < 0) return;
    let { state } = found;
    let id = found.id;
    for (const [eventId, name, data] of log.slice(at + 1)) {
      id = eventId;
      const reducer = name !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
      try {
        if (reducer) state = reducer(state, data);
      } catch {
        // The hub skipped a reducer that threw, and so does the mirror.
      }
    }
    log = found = undefined;
    sink.snapshot(state, id);
  };

  return {
    skip(id, name, size) {
      sink.error(
        new BoardcastError(
          'payload_too_large',
          `event "${name}" (id ${id}, ${size} characters) exceeded maxEventSize: skipped`,
        ),
      );
      // The state does not depend on it: nothing to mend (one being mended keeps its id in line).
      if (!Object.hasOwn(table, name)) {
        log?.push([id]);
        return;
      }
      sink.reset('too_large');
      // A snapshot taken before this skip might not cover it: start over from here.
      const mine = ++round;
      log = [[id]];
      found = undefined;
      take().then(
        (snapshot) => {
          if (mine !== round || !log) return;
          found = snapshot;
          settle();
        },
        (error: unknown) => {
          if (mine !== round || !log) return;
          log = undefined;
          fail(
            error instanceof BoardcastError
              ? error
              : new BoardcastError('network_error', 'could not take a snapshot to mend the state', { cause: error }),
          );
        },
      );
    },
    event(id, name, data) {
      if (!log) return;
      log.push([id, name, data]);
      if (log.length <= MAX_LOG) return settle();
      round++;
      log = undefined;
      fail(new BoardcastError('payload_too_large', 'could not mend the state after a skipped event'));
    },
    stop() {
      round++;
      const mending = log !== undefined;
      log = found = undefined;
      return mending;
    },
  };
}
