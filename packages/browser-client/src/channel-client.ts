import {
  BoardcastError,
  type ClientContract,
  type CommandInput,
  type CommandName,
  type CommandResult,
  type Contract,
  type ContractSpec,
  DIRECTORY,
  type EventData,
  type EventName,
  isChannelId,
  type StateOf,
} from '@boardcast/core';
import type { ServerStatus } from '@boardcast/core/wire';
import type { ReconnectOptions } from './backoff.js';
import type { ChannelDial, ChannelSink, ChannelTransport, DirectoryQuery, SinceRequest } from './channel-link.js';
import type { CommandOptions, LinkSink, Status, StatusChange } from './client.js';
import { createDirectoryMirror, type DirectoryMirror } from './directory-mirror.js';
import { callAll, type Listener } from './listeners.js';
import { closedError, createSession } from './session.js';
import type { ShareOptions } from './share.js';
import { createStateMirror, type StateMirror } from './state-mirror.js';

/**
 * A channel to add: its id, a `prefix*` pattern (every channel that starts
 * with `prefix`, including ones that appear later), `~directory`
 * ({@link DIRECTORY}), or `{ channel, since, state }` — the channel's events
 * after `since` (or its own `reset` + snapshot when the server no longer
 * has them), folded onto `state`, the state the page holds at `since` (from
 * stored history, say). Without `state` the events still reach listeners,
 * but the mirror stays empty until a snapshot.
 */
export type ChannelSubscription<C extends ContractSpec> =
  | string
  | { readonly channel: string; readonly since: string; readonly state?: StateOf<C> | undefined };

/**
 * Options of a client that names channels (`connect(url, contract, { channels })`).
 * `share` (default true in a page): share one connection with the other tabs
 * of this origin that use the same server, credential and options; it
 * carries the union of their sets (see the README, _Every tab live_).
 */
export interface ChannelClientOptions<C extends ContractSpec> extends ShareOptions {
  /** The set to start with (default empty: add channels later with `subscribe`). */
  readonly channels?: readonly ChannelSubscription<C>[] | undefined;
  /** The page of the directory to keep when the set holds `~directory` (default: all of it, up to 1000 entries). */
  readonly directory?: DirectoryQuery | undefined;
  /** Receive only these events (`events=a,b`) of every channel; default all. */
  readonly events?: readonly EventName<C>[] | undefined;
  /** Default timeout for commands in ms (default 10000). */
  readonly commandTimeoutMs?: number | undefined;
  /** Backoff and stop rules; `false` never reconnects. */
  readonly reconnect?: ReconnectOptions | false | undefined;
}

/** Command options on a channel client: which channel the command is for (default: the hub's default channel). */
export interface ChannelCommandOptions extends CommandOptions {
  readonly channel?: string | undefined;
}

/**
 * One channel's mirror: its state folded by the contract's reducers from
 * its snapshot, its typed events, its commands. Get it with
 * `client.channel(id)` (at any time: before the channel is subscribed, its
 * state is `undefined`). `subscribe`/`getSnapshot` are bound, for
 * `useSyncExternalStore(view.subscribe, view.getSnapshot)`, a Vue
 * `shallowRef` watcher or a Svelte store.
 */
export interface ChannelView<C extends ContractSpec> {
  readonly id: string;
  /** The channel's state; `undefined` until its snapshot arrives, and after it leaves the set. */
  readonly state: StateOf<C> | undefined;
  /** Whether the channel is in the set (asked for by id or matched by a pattern, and not refused). */
  readonly subscribed: boolean;
  /** Why the server refused or dropped the channel (`forbidden`, `too_many_channels`, `invalid_payload`). */
  readonly error: BoardcastError | undefined;
  /**
   * Resolves with the state once the channel has one (at once if it has);
   * rejects with the channel's refusal, or the client's error (or `closed`).
   */
  whenReady(): Promise<StateOf<C>>;
  /** An event of this channel, already folded; `id` is `undefined` for a catch-up replay (a `since` older than the connection). */
  on<K extends EventName<C>>(event: K, listener: (data: EventData<C, K>, id: string | undefined) => void): () => void;
  /** The state changed (snapshot, event, reset, refusal, unsubscribe); `undefined` when it has none. */
  on(event: 'change', listener: (state: StateOf<C> | undefined) => void): () => void;
  /** A snapshot replaced the state (first, after a reset, after a server `setState`). */
  on(event: 'snapshot', listener: (state: StateOf<C>) => void): () => void;
  /** The server could not replay what the channel missed (`history`), or removed it (`removed`); a snapshot follows. */
  on(event: 'reset', listener: (reason: string) => void): () => void;
  /** The server refused the channel or took it away (its state is gone; the client does not ask again). */
  on(event: 'forbidden', listener: (error: BoardcastError) => void): () => void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): StateOf<C> | undefined;
  /** `client.command(name, input, { ...options, channel: id })`. */
  send<K extends CommandName<C>>(
    name: K,
    input: CommandInput<C, K>,
    options?: CommandOptions,
  ): Promise<CommandResult<C, K>>;
}

/** The directory as a live list: `state` is `{ entries, total }` (see core's `DirectoryPage`). */
export type DirectoryView = Omit<DirectoryMirror, 'replace' | 'apply'>;

/**
 * A client whose connection names channels: one connection, a set that
 * changes in place, one mirror per channel, the directory, and one
 * Last-Event-ID that resumes every channel of the set.
 */
export interface ChannelClient<C extends ContractSpec> {
  readonly transport: 'sse' | 'ws';
  readonly status: Status;
  /** Why the client is `closed` when a stop rule ended it; `undefined` after `close()`. */
  readonly error: BoardcastError | undefined;
  /**
   * The connection's position: the newest id it received. Holding it means
   * holding every event of every channel in the set up to it; a reconnect
   * resumes every channel from it.
   */
  readonly lastEventId: string | undefined;
  /** The set: channel ids, patterns and `~directory`, as asked for, minus what was refused. */
  readonly channels: readonly string[];
  /** The mirror of one channel (the same object for the same id). */
  channel(id: string): ChannelView<C>;
  /** The directory, live while the set holds `~directory`. */
  readonly directory: DirectoryView;
  /**
   * Add to the set, without reloading: over WebSocket in place, over SSE by
   * a new stream that resumes from {@link lastEventId} (with the added
   * channels fresh) once the old one is stopped at that id — nothing lost,
   * nothing doubled. A channel already held is left alone (unless a
   * `since` is given). Asking again for a channel that was refused asks the
   * server again. Each channel's outcome shows on its view (`whenReady`,
   * `forbidden`) and on the client's `forbidden` event.
   */
  subscribe(channels: ChannelSubscription<C> | readonly ChannelSubscription<C>[]): void;
  /** Drop from the set (ids, patterns, `~directory`): their views go empty and nothing of them is folded after this call. */
  unsubscribe(channels: string | readonly string[]): void;
  command<K extends CommandName<C>>(
    name: K,
    input: CommandInput<C, K>,
    options?: ChannelCommandOptions,
  ): Promise<CommandResult<C, K>>;
  /** A channel was refused or taken away: typed error (`forbidden`, `too_many_channels`, `invalid_payload`). */
  on(event: 'forbidden', listener: (channel: string, error: BoardcastError) => void): () => void;
  /** A channel's snapshot arrived. */
  on(event: 'snapshot', listener: (channel: string, state: StateOf<C>) => void): () => void;
  /** Any event of any channel in the set, after its view folded it. */
  on(
    event: 'event',
    listener: (channel: string, name: EventName<C>, data: unknown, id: string | undefined) => void,
  ): () => void;
  /** Anything that went wrong that no promise reports (drops, bad frames, refusals). */
  on(event: 'error', listener: (error: BoardcastError) => void): () => void;
  onStatus(listener: (change: StatusChange) => void): () => void;
  /** What the server says about itself (`{ bus: 'ok' | 'degraded' }`). */
  readonly server: ServerStatus;
  onServer(listener: (status: ServerStatus) => void): () => void;
  /** Stop for good: pending commands reject with `closed`. */
  close(): void;
}

/** One entry of the set. */
interface Held {
  /** The `since` asked for, until the server has started the channel. */
  since: string | undefined;
  /** The snapshot arrived, or the `since` request was answered: a reconnect resumes it from the connection's id. */
  started: boolean;
  /** Events folded since a `since` request, before it was seen started. */
  folded: number;
  /** Of those, how many a repeated `since` request will deliver again, to be skipped. */
  skip: number;
}

const isPattern = (id: string) => id.length > 1 && id.endsWith('*');
/** Most entries a set may hold: the servers' per-request and default per-connection bound. */
const MAX_SET = 1000;
const internal = new Set(['change', 'snapshot', 'reset', 'forbidden']);

/**
 * The channel client: a {@link createSession} connection loop, the set it
 * asks for, and a {@link createStateMirror} per channel.
 */
export function createChannelClient<C extends ContractSpec>(
  contract: Contract<C> | C | ClientContract<C>,
  transport: ChannelTransport,
  options: ChannelClientOptions<C>,
): ChannelClient<C> {
  const set = new Map<string, Held>();
  const refused = new Set<string>();
  const views = new Map<string, ReturnType<typeof view>>();
  const directory = createDirectoryMirror(() => options.directory);
  let switching = false;
  /**
   * A new connection starts at position '' on the server, so a channel
   * asked for with an older `since` gets its events older than the client's
   * id *with* ids, first (the server writes in id order). Until a frame of
   * another channel (or a snapshot) shows they are past, they move no
   * position and do not count as the channel's start.
   */
  let catchingUp = false;

  /** The prefixes of the patterns in the set (kept beside it: `held` runs once per frame). */
  const prefixes = new Set<string>();
  const held = (channel: string) => {
    if (refused.has(channel)) return false;
    if (set.has(channel)) return true;
    if (channel === DIRECTORY) return false;
    for (const prefix of prefixes) if (channel.startsWith(prefix)) return true;
    return false;
  };
  const drop = (channel: string) => {
    if (isPattern(channel)) prefixes.delete(channel.slice(0, -1));
    return set.delete(channel);
  };

  function view(id: string) {
    const mirror: StateMirror<C> = createStateMirror<C>(contract);
    const listeners = new Map<string, Set<Listener>>();
    let waiting: [(state: StateOf<C>) => void, (error: BoardcastError) => void][] = [];
    let error: BoardcastError | undefined;
    const emit = (event: string, ...args: unknown[]) => callAll(listeners.get(event), args);
    const replace = (state: StateOf<C> | undefined) => {
      mirror.replace(state as StateOf<C>);
      emit('\0change', state);
      if (state === undefined) return;
      for (const [resolve] of waiting) resolve(state);
      waiting = [];
    };
    const fail = (why: BoardcastError) => {
      for (const [, reject] of waiting) reject(why);
      waiting = [];
    };
    const api: ChannelView<C> = {
      id,
      get state() {
        return mirror.getSnapshot();
      },
      get subscribed() {
        return held(id);
      },
      get error() {
        return error;
      },
      whenReady: () =>
        new Promise<StateOf<C>>((resolve, reject) => {
          const state = mirror.getSnapshot();
          if (state !== undefined) resolve(state);
          else if (session.status === 'closed') reject(session.error ?? closedError());
          else if (error && !held(id)) reject(error);
          else waiting.push([resolve, reject]);
        }),
      on(event: string, listener: Listener) {
        const key = internal.has(event) ? `\0${event}` : event;
        const bucket = listeners.get(key) ?? new Set();
        listeners.set(key, bucket.add(listener));
        return () => {
          bucket.delete(listener);
        };
      },
      subscribe: mirror.subscribe,
      getSnapshot: mirror.getSnapshot,
      send: (name, input, commandOptions) => client.command(name, input, { ...commandOptions, channel: id }),
    };
    return { api, mirror, emit, replace, fail, setError: (e: BoardcastError | undefined) => (error = e) };
  }
  const viewOf = (id: string) => {
    let v = views.get(id);
    if (!v) {
      v = view(id);
      views.set(id, v);
    }
    return v;
  };

  /** What a new connection asks for, from what the client holds. */
  const dialRequest = (): ChannelDial => {
    const resume: string[] = [];
    const fresh: string[] = [];
    const since: SinceRequest[] = [];
    const position = session.position;
    for (const [channel, entry] of set) {
      if (channel === DIRECTORY || isPattern(channel)) fresh.push(channel);
      else if (entry.started && position !== undefined) resume.push(channel);
      else if (entry.since !== undefined && !entry.started) {
        // Asked again from the same id: the events already folded come again first; skip them.
        entry.skip = entry.folded;
        since.push({ channel, since: entry.since });
      } else fresh.push(channel);
    }
    catchingUp = since.length > 0;
    return { resume, fresh, since, directory: options.directory };
  };

  /**
   * Put requests in the set; returns what to ask the server for. One the
   * server would refuse for its shape — an id outside the grammar, a
   * `since` that is no id, a set past {@link MAX_SET} (an SSE request that
   * names more is refused whole) — is refused here the same way, as a
   * typed `forbidden` after the call returns, and never sent.
   */
  const add = (list: readonly ChannelSubscription<C>[]): (string | SinceRequest)[] => {
    const asked: (string | SinceRequest)[] = [];
    for (const request of list) {
      const channel = typeof request === 'string' ? request : String(request?.channel);
      const since = typeof request === 'string' ? undefined : request.since;
      refused.delete(channel);
      if (set.has(channel) && since === undefined) continue;
      const error =
        channel !== DIRECTORY && !isChannelId(isPattern(channel) ? `${channel.slice(0, -1)}x` : channel)
          ? new BoardcastError('invalid_payload', `invalid channel id ${JSON.stringify(channel.slice(0, 40))}`)
          : since !== undefined && (typeof since !== 'string' || since.length === 0 || since.length > 128)
            ? new BoardcastError('invalid_payload', `"since" of ${channel} is not an event id`)
            : !set.has(channel) && set.size >= MAX_SET
              ? new BoardcastError('too_many_channels', `a client holds at most ${MAX_SET} channels (use a pattern)`)
              : undefined;
      if (error) {
        queueMicrotask(() => frames.forbidden(channel, error));
        continue;
      }
      set.set(channel, { since, started: false, folded: 0, skip: 0 });
      if (isPattern(channel)) prefixes.add(channel.slice(0, -1));
      const v = channel === DIRECTORY ? undefined : viewOf(channel);
      v?.setError(undefined);
      if (typeof request !== 'string' && request.state !== undefined) v?.replace(request.state);
      asked.push(since === undefined ? channel : { channel, since });
    }
    return asked;
  };

  /** SSE: one new stream for every change made in the same task. */
  const switchStream = () => {
    if (switching) return;
    switching = true;
    queueMicrotask(() => {
      switching = false;
      session.redial();
    });
  };

  const frames: Omit<ChannelSink, keyof LinkSink> = {
    channelSnapshot(channel: string, state: unknown, id: string | null) {
      // At the connection's position, which only grows (null: the bus has no event yet).
      if (id) session.position = id;
      catchingUp = false;
      if (channel === DIRECTORY) {
        if (set.has(DIRECTORY)) directory.replace(state as never);
        return;
      }
      if (!held(channel)) return;
      const entry = set.get(channel);
      if (entry) {
        entry.started = true;
        entry.since = undefined;
      }
      const v = viewOf(channel);
      v.setError(undefined);
      v.replace(state as StateOf<C>);
      v.emit('\0snapshot', state);
      session.emit('snapshot', channel, state);
    },
    channelEvent(channel: string, name: string, data: unknown, at: string | null) {
      let id = at;
      const entry = set.get(channel);
      const pending = entry !== undefined && !entry.started && entry.since !== undefined;
      if (pending && catchingUp) id = null;
      else if (id) catchingUp = false;
      if (id) session.position = id;
      if (channel === DIRECTORY) {
        if (set.has(DIRECTORY)) directory.apply(data);
        return;
      }
      if (!held(channel)) return;
      if (pending) {
        if (entry.skip > 0) {
          entry.skip--;
          return;
        }
        entry.folded++;
        // An event of its own with an id: every catch-up frame of its start came before it.
        if (id) entry.started = true;
      }
      const v = viewOf(channel);
      const before = v.mirror.getSnapshot();
      try {
        v.mirror.apply(name as EventName<C>, data as EventData<C, EventName<C>>);
      } catch (cause) {
        // The hub skipped this reducer too (it threw there as well): the state still agrees.
        session.emit('error', new BoardcastError('invalid_payload', `reducer "${name}" threw`, { cause }));
      }
      const after = v.mirror.getSnapshot();
      if (after !== before) v.emit('\0change', after);
      v.emit(name, data, id ?? undefined);
      session.emit('event', channel, name, data, id ?? undefined);
      return;
    },
    channelReset(channel, reason) {
      if (channel === DIRECTORY || !held(channel)) return;
      viewOf(channel).emit('\0reset', reason);
      session.emit('reset', channel, reason);
    },
    forbidden(channel, error) {
      drop(channel);
      refused.add(channel);
      if (channel === DIRECTORY) directory.replace(undefined);
      const v = viewOf(channel);
      v.setError(error);
      v.replace(undefined);
      v.fail(error);
      v.emit('\0forbidden', error);
      session.emit('forbidden', channel, error);
      session.emit('error', error);
    },
    started(channels) {
      for (const channel of channels) {
        const entry = set.get(channel);
        if (entry) {
          entry.started = true;
          entry.since = undefined;
        }
      }
    },
  };
  const session = createSession(
    transport,
    options,
    frames,
    (why) => {
      for (const v of views.values()) v.fail(why);
    },
    dialRequest,
  );

  const client: ChannelClient<C> = {
    transport: transport.name,
    get status() {
      return session.status;
    },
    get error() {
      return session.error;
    },
    get lastEventId() {
      return session.position;
    },
    get channels() {
      return [...set.keys()];
    },
    channel: (id) => viewOf(id).api,
    directory: {
      get state() {
        return directory.state;
      },
      getSnapshot: directory.getSnapshot,
      subscribe: directory.subscribe,
      on: directory.on,
    },
    subscribe(channels) {
      const list = (Array.isArray(channels) ? channels : [channels]) as readonly ChannelSubscription<C>[];
      const asked = add(list);
      if (asked.length === 0 || session.status === 'closed') return;
      if (!transport.subscribe?.(asked, options.directory)) switchStream();
    },
    unsubscribe(channels) {
      const list: readonly string[] = Array.isArray(channels) ? channels : [channels as string];
      const dropped = list.filter(drop);
      if (dropped.length === 0) return;
      if (dropped.includes(DIRECTORY)) directory.replace(undefined);
      // Views of channels no longer held (by id or by a pattern) go empty.
      for (const [id, v] of views) if (!held(id) && v.mirror.getSnapshot() !== undefined) v.replace(undefined);
      if (session.status === 'closed') return;
      if (!transport.unsubscribe?.(dropped)) switchStream();
    },
    command(name, input, commandOptions = {}) {
      if (session.status === 'closed') return Promise.reject(closedError());
      const timeout = commandOptions.timeout ?? options.commandTimeoutMs ?? 10_000;
      return transport.command(name, input, timeout, commandOptions.channel) as Promise<CommandResult<C, typeof name>>;
    },
    on: session.on as ChannelClient<C>['on'],
    onStatus: (listener) => session.on('\0status', listener),
    get server() {
      return session.server;
    },
    onServer: (listener) => session.on('\0server', listener),
    close: () => session.finish(),
  };

  add(options.channels ?? []);
  session.start();
  return client;
}
