import { type AccessPolicy, OPEN_ACCESS, principalIdOf } from './access.js';
import { type Bus, type BusStatus, compareStreamIds, MemoryBus, type StateCheckpoint } from './bus.js';
import { assertChannelId, DEFAULT_CHANNEL, DIRECTORY, isChannelId } from './channel.js';
import { ChannelSnapshotBody } from './channel-codec.js';
import type { ChannelHistoryStats } from './channel-log.js';
import { Connection, type ConnectionHost, type HubSink, type SubscribeResult } from './connection.js';
import type {
  CommandName,
  CommandPayload,
  CommandResult,
  ContractSpec,
  EventData,
  EventName,
  Reducer,
  StateOf,
} from './contract.js';
import {
  applyEntry,
  type DirectoryChange,
  type DirectoryEntry,
  type DirectoryPage,
  type DirectoryPatch,
  type DirectoryQuery,
  diffEntry,
  matchesQuery,
  pageOf,
} from './directory.js';
import { Emitter } from './emitter.js';
import { EncodedEvent, STATE_EVENT, StateChange, StatusFrame } from './encoded-event.js';
import { BoardcastError, type ErrorCode } from './errors.js';
import type { SinceResult } from './history.js';
import { RateLimiter } from './rate-limit.js';
import { EncodedSnapshot } from './snapshot.js';
import { validateEntry, validateEntrySync } from './validate.js';

export interface CommandContext {
  /** Which transport the command came through (`http`, `ws`, `local` …). */
  readonly transport: string;
  /** Transport-specific connection id, when there is one. */
  readonly clientId?: string | undefined;
  /** Whatever the transport's `authorize` hook returned for this client (the principal). */
  readonly auth?: unknown;
  /** The channel the command is for ({@link DEFAULT_CHANNEL} when the sender named none). */
  readonly channel: string;
  /** The principal's id (`AccessPolicy.principalId`, default {@link principalIdOf}): who sent it, for logs. */
  readonly principal: string;
  /** Aborted when the command times out, its client goes away, or the hub closes. */
  readonly signal: AbortSignal;
  /**
   * When the command times out, on the `performance.now()` clock (ms). Handlers
   * that forward work elsewhere (a remote board) pass it on so the far side
   * can drop work whose answer nobody will wait for.
   */
  readonly deadline: number;
}

/** What a transport passes to {@link Hub.dispatch}: everything the hub does not fill in itself. */
export type DispatchContext = Partial<Omit<CommandContext, 'signal' | 'deadline' | 'principal'>> & {
  /**
   * For command routers only: the instance that received the command
   * already checked the access policy and rate for this principal id; the
   * owning instance runs it as that principal without checking again.
   */
  readonly checkedPrincipal?: string | undefined;
};

export type CommandHandler<C extends ContractSpec, K extends CommandName<C>> = (
  input: CommandPayload<C, K>,
  context: CommandContext,
) => CommandResult<C, K> | Promise<CommandResult<C, K>>;

export interface HandleOptions {
  /** Overrides the hub's `commandTimeoutMs` for this command. */
  readonly timeoutMs?: number;
}

export type DispatchResult<T = unknown> =
  | { readonly ok: true; readonly data: T /** The result serialized once, for the wire. */; readonly json: string }
  | { readonly ok: false; readonly error: BoardcastError };

/** One line of the audit log: who sent which command to which channel, and how it ended. */
export interface CommandLog {
  readonly command: string;
  readonly channel: string;
  /** The sender's principal id (`anonymous` when no `authorize` named one). */
  readonly principal: string;
  readonly ok: boolean;
  readonly code?: BoardcastError['code'] | undefined;
  readonly durationMs: number;
  readonly transport: string;
  readonly clientId?: string | undefined;
}

/** Per-channel figures a program can read (`hub.channel(id).metrics`). */
export interface ChannelMetrics {
  /** Connections holding the channel. */
  readonly subscribers: number;
  /** What the bus keeps of its history (events, bytes, evictions so far); zeros on a bus that does not say. */
  readonly history: ChannelHistoryStats;
}

export type HubEvents = {
  /** A contract event was delivered by the bus to this hub (local or remote publish) and folded into its channel's state. */
  publish: (event: EncodedEvent) => void;
  /** A channel's folded state changed (a reducer returned a new object, or a `setState` event arrived). */
  state: (state: unknown, channel: string) => void;
  /** The audit log: one entry per command, whatever its outcome. */
  command: (log: CommandLog) => void;
  /** The directory changed: a channel was described, changed status/firmware/capabilities, or was removed. */
  directory: (change: DirectoryChange) => void;
  /**
   * The bus's health changed (`degraded`: Redis is unreachable; `ok`: back).
   * While degraded, commands are refused with `bus_unavailable` and every
   * client is told by a status frame. Only buses that report their health
   * (`Bus.onStatus`) emit it.
   */
  busStatus: (status: BusStatus) => void;
  /**
   * Something went wrong: a publish or `setState` that failed (also
   * rejected to its caller), a handler or reducer that threw, a sink that
   * threw, the bus failing. `where` names the place (`publish`, `reducer "led"` …).
   */
  error: (error: unknown, where: string) => void;
  close: () => void;
};

export interface HubOptions<C extends ContractSpec> {
  /**
   * The state of every channel before its first event (the contract
   * describes one channel; every channel starts here). On a shared bus
   * with state checkpoints (see `Bus.loadState`) a channel's checkpoint
   * replaces it.
   */
  readonly state: StateOf<C>;
  /** Fan-out engine; default `new MemoryBus({ history, historyMaxAgeMs, historyBytes })`. */
  readonly bus?: Bus;
  /** Events kept for replay per channel when the default bus is used (default 100). */
  readonly history?: number;
  /** Events older than this leave the default bus's history, in ms (default 15 min). */
  readonly historyMaxAgeMs?: number;
  /**
   * Byte budget of every channel's history together on the default bus;
   * oldest first out (default 32 MiB). Counted as each kept event's JSON
   * length + 128; the heap a kept event takes is about three times that
   * (its parsed data, ids and encoded frames: ~580 B for a 56 B payload,
   * bench/README.md), so size it at about a third of the memory you give history.
   */
  readonly historyBytes?: number;
  /** Default command timeout in ms (default 5000). */
  readonly commandTimeoutMs?: number;
  /**
   * Validate outbound events against their schemas (default false: they are
   * already typed). Events still reach the bus in the order `publish` and
   * `setState` were called, however long an async validator takes.
   */
  readonly validateEvents?: boolean;
  /**
   * Who may see and command which channel (default: everyone everything).
   * The principal is what the transport's `authorize` returned. See
   * `accessTable` for the common case.
   */
  readonly access?: AccessPolicy;
  /**
   * Channels this hub creates (`hub.channel(id)`, default 10,000); the next
   * is refused with `too_many_channels`. Board links and MQTT discovery
   * create channels for peers, so this bounds what a hostile peer can make.
   */
  readonly maxChannels?: number;
  /** Channels (and patterns) one connection may hold (default 1,000); more are refused with `too_many_channels`. */
  readonly maxChannelsPerConnection?: number;
  /**
   * Channel subscriptions one principal may hold over all its connections
   * (default 10,000). Applies with an `access` policy, which tells viewers
   * apart; without one every client is `anonymous`, bounded per connection.
   */
  readonly maxSubscriptionsPerPrincipal?: number;
  /**
   * Commands per second per principal, with bursts of `commandBurst`
   * (default 2 × rate); past it `too_many_requests` whose
   * `details.retryAfterMs` is the wait in ms until the next command is
   * admitted (HTTP answers it with `Retry-After`). Default: 20 when an
   * `access` policy is set (viewers are told apart), none otherwise.
   */
  readonly commandsPerSecond?: number;
  readonly commandBurst?: number;
  /** `channel.seen()` updates a directory entry's `lastSeen` at most this often, in ms (default 30,000). */
  readonly lastSeenIntervalMs?: number;
}

/** How many `setState` frames a hub keeps for replays; an older one in a replay turns it into a reset. */
const STATE_FRAMES = 256;
/** How long a resume from an id this instance has not folded yet waits for it before it becomes a reset. */
const REACH_TIMEOUT_MS = 5_000;

/** Name of the internal event that changes the directory (on the `~directory` channel). */
export const DIRECTORY_EVENT = '~directory';
/** Name of the internal event that makes every instance re-check live connections' rights. */
export const ACCESS_EVENT = '~access';
const ACCESS_CHANNEL = '~access';

/** The data of a `setState` event: the top-level fields it set and deleted, or a whole non-object value. */
type StatePatch = { readonly s: Record<string, unknown>; readonly d?: readonly string[] } | { readonly v: unknown };

export interface AttachOptions {
  /**
   * Channels to hold (ids, `prefix*` patterns, `~directory`, or
   * `{ channel, since }`). Missing: the 0.1 single stream of the default
   * channel in its own frames, byte for byte.
   */
  readonly channels?: readonly (string | import('./connection.js').ChannelRequest)[] | undefined;
  /** Resume after this event id (every channel of the connection); missing/empty means a fresh connection. */
  readonly lastEventId?: string | null | undefined;
  /** Deliver only these event names; missing means all. */
  readonly events?: ReadonlySet<string> | null | undefined;
  /** What `authorize` returned for this client; the access policy judges it. */
  readonly principal?: unknown;
  /** The page of the directory to start with, when `channels` holds `~directory`. */
  readonly directory?: DirectoryQuery | undefined;
}

type AnyHandler = (input: unknown, context: CommandContext) => unknown;
type HandlerEntry = { fn: AnyHandler; timeoutMs: number | undefined };

interface ChannelRecord {
  readonly id: string;
  state: unknown;
  /** Id of the newest event of this channel the hub folded. */
  head: string | undefined;
  body: ChannelSnapshotBody | undefined;
  readonly subscribers: Set<Connection>;
  readonly handlers: Map<string, HandlerEntry>;
  sinceCheckpoint: number;
  /** Created by the program or by an event (counts toward `maxChannels`), not only by a subscriber waiting for it. */
  live: boolean;
  /** The id of the checkpoint the state was taken from: events up to it are already folded. */
  skipUpTo: string | undefined;
}
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What changed from `previous` to `next`, as a {@link StatePatch}; `undefined` when nothing did. */
function diffState(previous: unknown, next: unknown): StatePatch | undefined {
  if (!isPlainObject(previous) || !isPlainObject(next)) return Object.is(previous, next) ? undefined : { v: next };
  const set: Record<string, unknown> = {};
  let changed = false;
  for (const key of Object.keys(next)) {
    if (Object.hasOwn(previous, key) && Object.is(previous[key], next[key])) continue;
    define(set, key, next[key]);
    changed = true;
  }
  const deleted = Object.keys(previous).filter((key) => !Object.hasOwn(next, key));
  if (!changed && deleted.length === 0) return undefined;
  return deleted.length > 0 ? { s: set, d: deleted } : { s: set };
}

/** Fold a {@link StatePatch}; the same function the state mirror mirrors by replacing with the snapshot frame. */
function applyPatch(state: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return state;
  if (Object.hasOwn(patch, 'v')) return patch.v;
  const out: Record<string, unknown> = {};
  if (isPlainObject(state)) for (const key of Object.keys(state)) define(out, key, state[key]);
  if (isPlainObject(patch.s)) for (const key of Object.keys(patch.s)) define(out, key, patch.s[key]);
  if (Array.isArray(patch.d)) for (const key of patch.d) if (typeof key === 'string') delete out[key];
  return out;
}

// defineProperty, not assignment: a `__proto__` key from JSON stays a plain field.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A subscribe refusal: reported only as its code and message (the
 * `refused` list of `connection.add`, a `forbidden` frame), never thrown, so
 * its stack — which would only name the hub's own admission code — is left
 * out. Capturing one was most of what a refused channel cost: 14–20 ms per
 * 1,000 refused vs 0.7–0.9 ms per 1,000 accepted, 2–3 ms without stacks
 * (packages/core/bench/refusals.mjs).
 * `Error.stackTraceLimit` is V8's; elsewhere the error is built as usual.
 */
function refusal(code: ErrorCode, message: string): BoardcastError {
  const V8Error = Error as ErrorConstructor & { stackTraceLimit?: unknown };
  const limit = V8Error.stackTraceLimit;
  if (typeof limit !== 'number') return new BoardcastError(code, message);
  V8Error.stackTraceLimit = 0;
  try {
    return new BoardcastError(code, message);
  } finally {
    V8Error.stackTraceLimit = limit;
  }
}

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function';
}

/**
 * The one place a program publishes events and handles commands. Every
 * transport (SSE, WebSocket, board links) attaches to the same hub. A hub
 * carries channels (one per board in a fleet); everything on the hub itself
 * (`publish`, `setState`, `state`, `handle`) is the default channel's, so a
 * single-board program names none.
 */
export class Hub<C extends ContractSpec> extends Emitter<HubEvents> {
  readonly contract: C;
  readonly bus: Bus;
  /** Resolves when state has been loaded from a shared bus (immediately for the memory bus). */
  readonly ready: Promise<void>;
  /** The access policy (everyone everything when the options name none). */
  readonly access: AccessPolicy;
  readonly #options: HubOptions<C>;
  readonly #handlers = new Map<string, HandlerEntry>();
  /** Live-event listeners of {@link subscribe}. */
  readonly #listeners = new Set<(event: EncodedEvent) => void>();
  readonly #channels = new Map<string, ChannelRecord>();
  /** Channels that exist (`live` records): what `maxChannels` counts. */
  #live = 0;
  readonly #handles = new Map<string, Channel<C>>();
  readonly #connections = new Set<Connection>();
  /** Pattern subscriptions: prefix → the connections holding `prefix*`. */
  readonly #patterns = new Map<string, Set<Connection>>();
  /** How many prefixes of {@link #patterns} have each length: a new channel looks up one prefix per length. */
  readonly #patternLengths = new Map<number, number>();
  readonly #directory = new Map<string, DirectoryEntry>();
  readonly #directorySubscribers = new Set<Connection>();
  /** Directory viewers to re-check at the end of this turn ({@link #recheckSoon}). */
  readonly #recheckDue = new Set<Connection>();
  /**
   * Directory verdicts shared by the connections of one principal id (and
   * page query) within one turn: a burst re-reads each viewer's page, and
   * the policy is asked once per principal, not once per connection.
   * Keyed by the access epoch too, so a page after `invalidateAccess` never
   * reuses an answer from before it.
   */
  readonly #pageVerdicts = new Map<string, ReadonlyMap<string, boolean> | Promise<ReadonlyMap<string, boolean>>>();
  /** Access re-checks folded so far. */
  #accessEpoch = 0;
  readonly #subscriptions = new Map<string, number>();
  readonly #rate: RateLimiter | undefined;
  readonly #open: boolean;
  readonly #unsubscribeBus: () => void;
  readonly #unsubscribeLost: (() => void) | undefined;
  readonly #unsubscribeResync: (() => void) | undefined;
  readonly #unsubscribeStatus: (() => void) | undefined;
  /** The status frame clients start with, rebuilt when the bus's status changes. */
  #statusFrame: StatusFrame | undefined;
  readonly #inflight = new Set<AbortController>();
  readonly #reducers: { readonly [name: string]: Reducer<unknown, unknown> | undefined };
  /** `setState` frames by id, so a replay can send the state as it was at that id. */
  readonly #stateFrames = new Map<string, StateChange>();
  #snapshot: EncodedSnapshot | undefined;
  #head: string | undefined;
  /** Id of the newest directory change folded, and changes since the directory's last checkpoint. */
  #directoryHead: string | undefined;
  #directorySinceCheckpoint = 0;
  #closed = false;
  /** False until a shared bus's checkpoint is loaded; events delivered before wait in `#early`. */
  #loaded: boolean;
  #early: EncodedEvent[] = [];
  /** Resumes waiting for this instance to fold an id (see `ConnectionHost.reached`). */
  #waiters: { id: string; resolve: (reached: boolean) => void }[] = [];
  /** Publishes waiting for an async validator or an earlier publish: later ones queue behind them. */
  #queued = 0;
  #tail: Promise<void> = Promise.resolve();

  constructor(contract: C, options: HubOptions<C>) {
    super();
    this.contract = contract;
    this.#options = options;
    this.#reducers = (contract.reducers ?? {}) as { readonly [name: string]: Reducer<unknown, unknown> | undefined };
    this.access = options.access ?? OPEN_ACCESS;
    this.#open = options.access === undefined;
    const rate = options.commandsPerSecond ?? (options.access ? 20 : undefined);
    this.#rate = rate === undefined ? undefined : new RateLimiter(rate, options.commandBurst ?? rate * 2);
    this.bus =
      options.bus ??
      new MemoryBus({
        history: options.history ?? 100,
        historyMaxAgeMs: options.historyMaxAgeMs,
        historyBytes: options.historyBytes,
      });
    this.#record(DEFAULT_CHANNEL, true);
    this.#head = this.bus.headId;
    this.#loaded = this.bus.loadState === undefined;
    this.#unsubscribeBus = this.bus.subscribe((event) => this.#receive(event));
    this.#unsubscribeLost = this.bus.onCheckpointLost?.(() => {
      if (!this.#loaded) return;
      for (const record of this.#channels.values()) this.#saveCheckpoint(record);
      this.#saveDirectoryCheckpoint();
    });
    this.#unsubscribeResync = this.bus.onResync?.((checkpoint) => {
      if (!this.#loaded || this.#closed) return;
      this.#adopt(checkpoint);
    });
    this.#unsubscribeStatus = this.bus.onStatus?.((status) => this.#onBusStatus(status));
    this.ready = this.#loadState();
  }

  // ------------------------------------------------------------- bus health

  /**
   * The bus's health: `degraded` while a shared bus cannot reach its
   * backend (commands are then refused with `bus_unavailable`); always `ok`
   * on a bus that does not report it (the in-memory bus).
   */
  get busStatus(): BusStatus {
    return this.bus.status ?? 'ok';
  }

  /** The frame a stream starts with; none on a bus that does not report its health. */
  #currentStatusFrame(): StatusFrame | undefined {
    const bus = this.bus.status;
    if (bus === undefined) return undefined;
    if (this.#statusFrame?.data.bus !== bus) this.#statusFrame = new StatusFrame({ bus });
    return this.#statusFrame;
  }

  #onBusStatus(status: BusStatus): void {
    if (this.#closed) return;
    this.emit('busStatus', status);
    const frame = this.#currentStatusFrame();
    if (!frame || !this.#loaded) return;
    for (const connection of this.#connections) connection.deliver(frame);
  }

  // ------------------------------------------------------------- channels

  /**
   * The handle of one channel: publish to it, handle its commands, read
   * its state, describe it in the directory. Created on first use; the
   * `maxChannels`-th new channel throws `too_many_channels`, an invalid id
   * `invalid_payload` ({@link CHANNEL_ID} grammar).
   */
  channel(id: string): Channel<C> {
    let handle = this.#handles.get(id);
    if (handle) return handle;
    assertChannelId(id);
    this.#record(id, true, true);
    handle = new Channel(this, id, this.#channelHost);
    this.#handles.set(id, handle);
    return handle;
  }

  /**
   * Whether this instance handles `command` for `channel` itself (a handler
   * registered on `hub.channel(channel)`): command routers use it to find
   * the instance that owns a channel.
   */
  handlesChannel(channel: string, command: string): boolean {
    return this.#channels.get(channel)?.handlers.has(command) === true;
  }

  /** Ids of the channels that exist (created by the program or by an event), sorted. */
  get channels(): readonly string[] {
    return [...this.#channels.values()]
      .filter((r) => r.live)
      .map((r) => r.id)
      .sort();
  }

  /** Whether channel `id` exists (created by the program or by an event). */
  hasChannel(id: string): boolean {
    return this.#channels.get(id)?.live === true;
  }

  /** The directory: every described channel, with its kind, status, last seen, firmware and capabilities. */
  get directory(): ReadonlyMap<string, DirectoryEntry> {
    return this.#directory;
  }

  /** A page of the directory as `principal` may see it (entries of channels it may not see are left out). */
  async directoryPage(query: DirectoryQuery = {}, principal?: unknown): Promise<DirectoryPage> {
    if (this.#open) return pageOf(this.#directory.values(), query);
    const visible: DirectoryEntry[] = [];
    for (const entry of this.#directory.values()) {
      if (await this.access.canSee(principal, entry.id)) visible.push(entry);
    }
    return pageOf(visible, query);
  }

  /**
   * Re-check the rights of live connections (of one principal id, or all)
   * on every instance: call it after the access policy changed. A channel
   * a connection may no longer see gets a `forbidden` frame and leaves its
   * set; nothing published after this call reaches it. Travels through the
   * bus, so a change made on one instance reaches connections on all.
   */
  invalidateAccess(principalId?: string): Promise<void> {
    const data = principalId === undefined ? {} : { principal: principalId };
    const result = this.#inOrder(undefined, () =>
      this.bus.publish(ACCESS_EVENT, data, JSON.stringify(data), ACCESS_CHANNEL),
    ).then(() => undefined);
    return this.#reported(result, 'invalidateAccess');
  }

  /**
   * The record of channel `id`, created when missing. `maxChannels` is
   * enforced only for channels this program creates (`hub.channel()`):
   * an event or a directory change from the bus is always folded, or two
   * instances each at the bound would refuse each other's channels and
   * their states would silently diverge.
   */
  #record(id: string, live: boolean, enforce = false): ChannelRecord {
    let record = this.#channels.get(id);
    if (!record?.live) {
      if (enforce && this.#live >= (this.#options.maxChannels ?? 10_000) && id !== DEFAULT_CHANNEL) {
        throw new BoardcastError('too_many_channels', `this hub already has ${this.#live} channels`);
      }
      record ??= {
        id,
        state: this.#options.state,
        head: undefined,
        body: undefined,
        subscribers: new Set(),
        handlers: new Map(),
        sinceCheckpoint: 0,
        live: false,
        skipUpTo: undefined,
      };
      this.#channels.set(id, record);
    }
    if (live) this.#setLive(record);
    return record;
  }

  /** A channel exists from now on (created by the program or by an event): count it, tell the patterns. */
  #setLive(record: ChannelRecord): void {
    if (record.live) return;
    record.live = true;
    this.#live++;
    this.#appeared(record.id);
  }

  /**
   * Tell the pattern subscribers of `id` it exists: one map lookup per
   * distinct prefix length held (at most 128, the longest id), not a test
   * per pattern held. (A connection whose patterns overlap is told once per
   * matching pattern; it adds the channel once.)
   */
  #appeared(id: string): void {
    for (const length of this.#patternLengths.keys()) {
      if (length > id.length) continue;
      const connections = this.#patterns.get(id.slice(0, length));
      if (connections) for (const connection of connections) connection.appeared(id);
    }
  }

  /** Forget a record nobody needs any more (a subscriber left a channel that never existed). */
  #collect(record: ChannelRecord): void {
    if (record.live || record.subscribers.size > 0 || record.handlers.size > 0 || record.id === DEFAULT_CHANNEL) return;
    this.#channels.delete(record.id);
  }

  // ------------------------------------------------------------- state

  /** The default channel's state after the newest event this hub delivered (folded through the contract's reducers). */
  get state(): StateOf<C> {
    return this.#defaultRecord().state as StateOf<C>;
  }

  #defaultRecord(): ChannelRecord {
    return this.#channels.get(DEFAULT_CHANNEL) ?? this.#record(DEFAULT_CHANNEL, true);
  }

  /**
   * Change state that no event changes (a configuration, a label) on the
   * default channel. It is published as an event of its own, so it takes
   * its place in the bus's order like any event: a client joining at any
   * moment sees it once, inside its snapshot or as a fresh snapshot frame
   * carrying its id.
   *
   * A function receives the state as of the moment the update reaches the
   * bus (after every earlier `publish`/`setState` of this hub). What is sent
   * is the top-level fields the update changed (compared with `Object.is`),
   * so on a shared bus it never rolls back a field that an event changed
   * meanwhile on another instance. Resolves once the change is folded here
   * (at once on the in-memory bus); rejects like {@link publish} and emits
   * `error` too. Nothing is published when nothing changed.
   */
  setState(next: StateOf<C> | ((previous: StateOf<C>) => StateOf<C>)): Promise<void> {
    return this.#setState(DEFAULT_CHANNEL, next);
  }

  #setState(channel: string, next: unknown): Promise<void> {
    const result = this.#inOrder(undefined, () => {
      const record = this.#record(channel, true);
      const value = typeof next === 'function' ? (next as (p: unknown) => unknown)(record.state) : next;
      const patch = diffState(record.state, value);
      if (patch === undefined) return undefined;
      let json: string;
      try {
        json = JSON.stringify(patch);
      } catch (error) {
        throw new BoardcastError('invalid_payload', 'state is not JSON-serializable', { cause: error });
      }
      return this.bus.publish(STATE_EVENT, patch, json, channel);
    }).then(() => undefined);
    return this.#reported(result, 'setState');
  }

  /**
   * The default channel's snapshot with the id of the newest event the hub
   * folded; serialized once per change. Before any event its id is the
   * bus's `originId` (when it has one), never none: a client holding an id
   * the server refused (reset) must get one it can resume from, or a
   * browser's `EventSource`, which keeps its Last-Event-ID until an event
   * carries an `id:`, would send the refused one again and be reset on
   * every reconnect.
   */
  snapshot(): EncodedSnapshot {
    const cached = this.#snapshot;
    const id = this.#head ?? this.bus.originId;
    const record = this.#defaultRecord();
    if (cached && cached.headId === id && cached.state === record.state) return cached;
    const fresh = new EncodedSnapshot(record.state, this.#bodyOf(record).json, id);
    this.#snapshot = fresh;
    return fresh;
  }

  #bodyOf(record: ChannelRecord): ChannelSnapshotBody {
    if (record.body === undefined || record.body.state !== record.state) {
      record.body = new ChannelSnapshotBody(record.id, record.state, JSON.stringify(record.state) ?? 'null');
    }
    return record.body;
  }

  /** Id of the newest event this hub has seen (any channel). */
  get headId(): string | undefined {
    return this.#head;
  }

  // ------------------------------------------------------------- events

  /**
   * Publish an event of the default channel to every client holding it.
   * The payload is serialized once here; transports only write the shared
   * frame. The returned promise resolves to the event id; it never needs a
   * `catch` (failures are also emitted as `error`), but awaiting it
   * surfaces them.
   */
  publish<K extends EventName<C>>(event: K, data: EventData<C, K>): Promise<string> {
    return this.#publishTo(DEFAULT_CHANNEL, event, data);
  }

  #publishTo(channel: string, event: string, data: unknown): Promise<string> {
    let result: Promise<string>;
    try {
      result = this.#publish(channel, event, data);
    } catch (error) {
      result = Promise.reject(error);
    }
    return this.#reported(result, 'publish');
  }

  /** Checks that need no validator run synchronously, so a bad publish fails before anything queues. */
  #publish(channel: string, event: string, data: unknown): Promise<string> {
    const spec = this.contract.events;
    if (!Object.hasOwn(spec, event)) throw new BoardcastError('invalid_payload', `unknown event "${event}"`);
    let json: string;
    try {
      json = JSON.stringify(data) ?? 'null';
    } catch (error) {
      throw new BoardcastError('invalid_payload', `event "${event}" is not JSON-serializable`, { cause: error });
    }
    let validated: Promise<unknown> | undefined;
    const entry = spec[event];
    if (this.#options.validateEvents && entry) {
      if (validateEntrySync(entry, data, `event "${event}"`) === undefined) {
        validated = validateEntry(entry, data, `event "${event}"`);
      }
    }
    return this.#inOrder(validated, () => this.bus.publish(event, data, json, channel)) as Promise<string>;
  }

  /**
   * Hand `send` to the bus after every earlier publish/setState of this hub
   * was handed over, and after `prepare` (an async validation) settled: the
   * bus's order is the call order. Synchronous when nothing waits, so on the
   * in-memory bus a publish is folded before `publish` returns.
   */
  #inOrder<T>(prepare: Promise<unknown> | undefined, send: () => T | Promise<T>): Promise<T | undefined> {
    if (this.#closed) return Promise.reject(new BoardcastError('closed', 'hub is closed'));
    if (this.#queued === 0 && prepare === undefined) {
      try {
        return Promise.resolve(send());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    prepare?.catch(() => undefined); // rejected below, after our turn
    const previous = this.#tail;
    let handedOver!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      handedOver = resolve;
    });
    this.#queued++;
    const turn = async (): Promise<T | undefined> => {
      let sent: T | Promise<T>;
      try {
        await previous;
        await prepare;
        if (this.#closed) throw new BoardcastError('closed', 'hub is closed');
        sent = send();
      } finally {
        this.#queued--;
        handedOver();
      }
      return await sent;
    };
    return turn();
  }

  /** Every publish failure goes to `error` as well as to the caller, who need not catch it. */
  #reported<T>(result: Promise<T>, where: string): Promise<T> {
    result.catch((error) => this.emit('error', error, where));
    return result;
  }

  /** Every event the bus delivers, in the bus's order. */
  #receive(event: EncodedEvent): void {
    if (!this.#loaded) {
      this.#early.push(event);
      return;
    }
    if (event.event === DIRECTORY_EVENT) this.#foldDirectory(event);
    else if (event.event === ACCESS_EVENT) this.#foldAccess(event);
    else this.#foldEvent(event);
    this.#head = event.id;
    if (this.#waiters.length > 0) this.#wake();
  }

  #foldEvent(event: EncodedEvent): void {
    const record = this.#channels.get(event.channel) ?? this.#record(event.channel, true);
    this.#setLive(record);
    // At or before the channel's checkpoint: already in its state. Only a
    // checkpoint (load, resync) can put a channel's head ahead of the bus,
    // so the live path compares nothing.
    if (record.skipUpTo !== undefined) {
      if ((this.#compare(event.id, record.skipUpTo) ?? 1) <= 0) return;
      record.skipUpTo = undefined;
    }
    const delivered = this.#fold(record, event);
    if (delivered === event) {
      this.emit('publish', event);
      for (const listener of this.#listeners) this.#call(listener, event);
    }
    for (const connection of record.subscribers) connection.deliver(delivered);
  }

  #call(listener: (event: EncodedEvent) => void, event: EncodedEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.emit('error', error, 'subscriber');
    }
  }

  /**
   * Apply one event to its channel's state. Reducers are the contract's and
   * run on every instance and in every browser, so the state after id N is
   * the same everywhere. A reducer that throws leaves the state as it was
   * (the browser's mirror does the same) and is reported. Returns what
   * clients receive for it: the event itself, or a {@link StateChange} frame.
   */
  #fold(record: ChannelRecord, event: EncodedEvent): EncodedEvent {
    const previous = record.state;
    let delivered = event;
    if (event.event === STATE_EVENT) {
      record.state = applyPatch(previous, event.data);
      const json = JSON.stringify(record.state) ?? 'null';
      const change = new StateChange(event.id, event.data, event.json, json, record.id);
      this.#stateFrames.set(event.id, change);
      if (this.#stateFrames.size > STATE_FRAMES) {
        this.#stateFrames.delete(this.#stateFrames.keys().next().value as string);
      }
      record.body = new ChannelSnapshotBody(record.id, record.state, json);
      delivered = change;
    } else {
      const reducer = Object.hasOwn(this.#reducers, event.event) ? this.#reducers[event.event] : undefined;
      if (reducer) {
        try {
          record.state = reducer(previous, event.data);
        } catch (error) {
          this.emit('error', error, `reducer "${event.event}"`);
        }
      }
    }
    record.head = event.id;
    if (!Object.is(previous, record.state)) this.emit('state', record.state, record.id);
    this.#checkpoint(record);
    return delivered;
  }

  #foldDirectory(event: EncodedEvent): void {
    // At or before the directory's checkpoint: already in it.
    if (this.#directoryHead !== undefined && (this.#compare(event.id, this.#directoryHead) ?? 1) <= 0) return;
    this.#directoryHead = event.id;
    this.#checkpointDirectory();
    const change = event.data as DirectoryChange;
    const channel = change?.channel;
    if (typeof channel !== 'string') return;
    let data: unknown;
    if ('removed' in change) {
      if (!this.#directory.delete(channel) && !this.#channels.get(channel)?.live) return;
      data = { id: channel, removed: true };
      this.#removeChannel(channel, event.id);
    } else {
      const entry = applyEntry(channel, this.#directory.get(channel), change.set);
      this.#directory.set(channel, entry);
      this.#record(channel, true);
      data = entry;
    }
    this.emit('directory', change);
    if (this.#directorySubscribers.size === 0) return;
    const frame = new EncodedEvent(event.id, 'entry', data, JSON.stringify(data), DIRECTORY);
    this.#deliverDirectory(channel, frame);
  }

  /**
   * Directory changes go to the viewers who may see the channel: one
   * policy decision per principal, not per connection.
   */
  #deliverDirectory(channel: string, frame: EncodedEvent): void {
    if (this.#open) {
      for (const connection of this.#directorySubscribers) connection.deliver(frame);
      return;
    }
    const verdicts = new Map<string, boolean | Promise<boolean>>();
    for (const connection of this.#directorySubscribers) {
      let verdict = verdicts.get(connection.principalId);
      if (verdict === undefined) {
        try {
          verdict = this.access.canSee(connection.principal, channel);
        } catch (error) {
          this.emit('error', error, 'access.canSee');
          verdict = false;
        }
        verdicts.set(connection.principalId, verdict);
      }
      if (verdict === true) connection.deliver(frame);
      else if (verdict !== false) {
        // An asynchronous policy: the connection re-reads the whole (small) directory page in order.
        this.#recheckSoon(connection);
      }
    }
  }

  /**
   * Re-check `connection` once the changes delivered in this turn are in: a
   * burst of directory changes (a fleet coming online, a bus catching up)
   * costs each viewer one round of policy calls and one page, not one per change.
   */
  #recheckSoon(connection: Connection): void {
    if (this.#recheckDue.size === 0) {
      queueMicrotask(() => {
        const due = [...this.#recheckDue];
        this.#recheckDue.clear();
        for (const c of due) c.recheck();
      });
    }
    this.#recheckDue.add(connection);
  }

  #removeChannel(channel: string, id: string): void {
    const record = this.#channels.get(channel);
    try {
      const removed = this.bus.removeChannel?.(channel, id);
      if (isPromiseLike(removed)) removed.then(undefined, (error) => this.emit('error', error, 'bus.removeChannel'));
    } catch (error) {
      this.emit('error', error, 'bus.removeChannel');
    }
    if (!record) return;
    record.state = this.#options.state;
    record.body = undefined;
    record.head = undefined;
    record.sinceCheckpoint = 0;
    if (channel !== DEFAULT_CHANNEL && record.live) {
      record.live = false;
      this.#live--;
    }
    for (const connection of record.subscribers) connection.removed(channel);
    this.#collect(record);
  }

  #foldAccess(event: EncodedEvent): void {
    this.#accessEpoch++;
    const principal = (event.data as { principal?: unknown } | null)?.principal;
    for (const connection of this.#connections) {
      if (principal === undefined || connection.principalId === principal) connection.recheck();
    }
  }

  /** On a bus with per-channel checkpoints the directory has one too (channel `~directory`, state: the entries). */
  #checkpointDirectory(): void {
    if (!this.bus.saveState || this.bus.channelCheckpoints !== true) return;
    if (++this.#directorySinceCheckpoint < (this.bus.checkpointEvery ?? 100)) return;
    this.#saveDirectoryCheckpoint();
  }

  #saveDirectoryCheckpoint(): void {
    this.#directorySinceCheckpoint = 0;
    if (!this.bus.saveState || this.bus.channelCheckpoints !== true) return;
    // Saved after the change is applied (the caller folds it right after this returns), with the head as of then.
    queueMicrotask(() => {
      const head = this.#directoryHead;
      if (head === undefined || this.#closed) return;
      try {
        const saved = this.bus.saveState?.(head, JSON.stringify([...this.#directory.values()]), DIRECTORY);
        if (isPromiseLike(saved)) saved.then(undefined, (error) => this.emit('error', error, 'bus.saveState'));
      } catch (error) {
        this.emit('error', error, 'bus.saveState');
      }
    });
  }

  #checkpoint(record: ChannelRecord): void {
    if (!this.bus.saveState || ++record.sinceCheckpoint < (this.bus.checkpointEvery ?? 100)) return;
    this.#saveCheckpoint(record);
  }

  #saveCheckpoint(record: ChannelRecord): void {
    record.sinceCheckpoint = 0;
    const head = record.head;
    if (head === undefined || !this.bus.saveState) return;
    // A 0.1 bus stores one checkpoint: only the default channel's may go there.
    if (record.id !== DEFAULT_CHANNEL && this.bus.channelCheckpoints !== true) return;
    try {
      const saved = this.bus.saveState(head, this.#bodyOf(record).json, record.id);
      if (isPromiseLike(saved)) saved.then(undefined, (error) => this.emit('error', error, 'bus.saveState'));
    } catch (error) {
      this.emit('error', error, 'bus.saveState');
    }
  }

  #compare(a: string, b: string): number | undefined {
    return this.bus.compareIds ? this.bus.compareIds(a, b) : compareStreamIds(a, b);
  }

  #wake(): void {
    const head = this.#head;
    if (head === undefined) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if ((this.#compare(waiter.id, head) ?? 1) > 0) return true;
      waiter.resolve(true);
      return false;
    });
  }

  /**
   * Live events of every channel, without snapshot or replay. Returns the
   * unsubscribe function. `setState` changes are not events: listen to
   * `state` for them (and to `busStatus` for the bus's health).
   */
  subscribe(listener: (event: EncodedEvent) => void): () => void {
    const entry = (event: EncodedEvent) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Open client streams (connections). */
  get subscriberCount(): number {
    return this.#connections.size;
  }

  /**
   * Events of `channel` after `lastId`, or a gap, as clients receive them:
   * a `setState` event comes as its snapshot frame, and one this hub no
   * longer holds makes the answer a gap (the client then gets a fresh
   * snapshot).
   */
  since(lastId: string, channel: string = DEFAULT_CHANNEL): SinceResult | Promise<SinceResult> {
    const result = this.bus.since(lastId, channel);
    return isPromiseLike<SinceResult>(result)
      ? Promise.resolve(result).then((r) => this.#replayable(r))
      : this.#replayable(result);
  }

  #replayable(result: SinceResult): SinceResult {
    if (result.kind === 'gap' || !result.events.some((e) => e.event === STATE_EVENT)) return result;
    const events: EncodedEvent[] = [];
    for (const event of result.events) {
      if (event.event !== STATE_EVENT) events.push(event);
      else {
        const frame = this.#stateFrames.get(event.id);
        if (!frame) return { kind: 'gap' };
        events.push(frame);
      }
    }
    return { kind: 'events', events };
  }

  /**
   * Open a client's stream. With `channels`, the connection holds that set
   * (changeable with `add`/`remove`) and receives channel frames; without,
   * it is the 0.1 single stream of the default channel, byte for byte.
   * Each channel starts with its snapshot (fresh), its missed events
   * (resume) or its `reset` + snapshot (gap), then live events — with
   * nothing lost or duplicated in between, whether the bus answers
   * synchronously or not. Refusals (policy, bounds) arrive as `forbidden`
   * frames for the channels concerned; a single stream whose viewer may not
   * see the default channel is ended through `sink.end`.
   */
  connect(options: AttachOptions, sink: HubSink): HubConnection {
    const principalId = this.#principalId(options.principal);
    const connection = new Connection(this.#host, sink, {
      channels: options.channels,
      lastEventId: options.lastEventId,
      events: options.events,
      principal: options.principal,
      principalId,
      directory: options.directory,
    });
    this.#connections.add(connection);
    // Before a shared bus's checkpoint is loaded the state is not yet the
    // state at any id: the client starts once it is.
    if (this.#loaded) connection.start(options.channels, options.lastEventId);
    else void this.ready.then(() => connection.start(options.channels, options.lastEventId));
    return connection;
  }

  /** {@link connect} for a single stream (0.1): returns the detach function. */
  attach(options: AttachOptions, sink: HubSink): () => void {
    const connection = this.connect(options, sink);
    return () => connection.close();
  }

  #principalId(principal: unknown): string {
    try {
      return this.access.principalId ? this.access.principalId(principal) : principalIdOf(principal);
    } catch (error) {
      this.emit('error', error, 'access.principalId');
      return 'anonymous';
    }
  }

  /** What connections see of the hub; one object shared by every client. */
  readonly #host: ConnectionHost = {
    compare: (a, b) => this.#compare(a, b),
    head: () => this.#head ?? this.bus.originId ?? '',
    since: (lastId, channel) => this.since(lastId, channel),
    reached: (id) => {
      if (this.#head !== undefined && (this.#compare(id, this.#head) ?? 1) <= 0) return true;
      return new Promise<boolean>((resolve) => {
        const waiter = { id, resolve };
        this.#waiters.push(waiter);
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, REACH_TIMEOUT_MS);
        (timer as { unref?: () => void }).unref?.();
      });
    },
    status: () => this.#currentStatusFrame(),
    legacySnapshot: () => this.snapshot(),
    snapshotBody: (channel) => this.#bodyOf(this.#channels.get(channel) ?? this.#record(channel, false)),
    directoryVerdicts: (principal, query) => this.#directoryVerdicts(principal, query),
    directoryBody: (principal, query, verdicts) => this.#directoryBody(principal, query, verdicts),
    admit: (connection, channel, pending) => this.#admit(connection, channel, pending ?? 0),
    index: (connection, channel) => {
      if (channel === DIRECTORY) this.#directorySubscribers.add(connection);
      else (this.#channels.get(channel) ?? this.#record(channel, false)).subscribers.add(connection);
      this.#subscriptions.set(connection.principalId, (this.#subscriptions.get(connection.principalId) ?? 0) + 1);
    },
    unindex: (connection, channel) => {
      if (channel === DIRECTORY) this.#directorySubscribers.delete(connection);
      else {
        const record = this.#channels.get(channel);
        if (record) {
          record.subscribers.delete(connection);
          this.#collect(record);
        }
      }
      this.#release(connection.principalId);
    },
    indexPattern: (connection, prefix) => {
      let set = this.#patterns.get(prefix);
      if (!set) {
        set = new Set();
        this.#patterns.set(prefix, set);
        this.#patternLengths.set(prefix.length, (this.#patternLengths.get(prefix.length) ?? 0) + 1);
      }
      set.add(connection);
      this.#subscriptions.set(connection.principalId, (this.#subscriptions.get(connection.principalId) ?? 0) + 1);
    },
    unindexPattern: (connection, prefix) => {
      const set = this.#patterns.get(prefix);
      set?.delete(connection);
      if (set?.size === 0) {
        this.#patterns.delete(prefix);
        const left = (this.#patternLengths.get(prefix.length) ?? 1) - 1;
        if (left === 0) this.#patternLengths.delete(prefix.length);
        else this.#patternLengths.set(prefix.length, left);
      }
      this.#release(connection.principalId);
    },
    channelsWith: (prefix) => this.channels.filter((id) => id.startsWith(prefix)),
    report: (error, where) => this.emit('error', error, where),
    closed: (connection) => {
      this.#connections.delete(connection);
    },
  };

  #release(principalId: string): void {
    const n = (this.#subscriptions.get(principalId) ?? 1) - 1;
    if (n <= 0) this.#subscriptions.delete(principalId);
    else this.#subscriptions.set(principalId, n);
  }

  /**
   * Whether a connection may add `channel`: its id, the bounds (counting
   * `pending` channels accepted earlier in the same request), the policy.
   */
  #admit(
    connection: Connection,
    channel: string,
    pending: number,
  ): BoardcastError | undefined | Promise<BoardcastError | undefined> {
    const pattern = channel.length > 1 && channel.endsWith('*');
    if (channel !== DIRECTORY && !isChannelId(pattern ? `${channel.slice(0, -1)}x` : channel)) {
      return refusal('invalid_payload', `invalid channel id ${JSON.stringify(channel.slice(0, 40))}`);
    }
    if (!connection.has(channel)) {
      const perConnection = this.#options.maxChannelsPerConnection ?? 1000;
      if (connection.size + pending >= perConnection) {
        return refusal('too_many_channels', `a connection may hold ${perConnection} channels`);
      }
      // Per principal only where viewers are told apart (an access policy): without one every
      // client is `anonymous`, and maxClients × maxChannelsPerConnection already bounds them.
      const perPrincipal = this.#options.maxSubscriptionsPerPrincipal ?? 10_000;
      if (!this.#open && (this.#subscriptions.get(connection.principalId) ?? 0) + pending >= perPrincipal) {
        return refusal('too_many_channels', `a viewer may hold ${perPrincipal} subscriptions`);
      }
    }
    if (this.#open || pattern || channel === DIRECTORY) return undefined;
    const forbidden = (): BoardcastError => refusal('forbidden', `channel "${channel}" is not yours to see`);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.access.canSee(connection.principal, channel);
    } catch (error) {
      this.emit('error', error, 'access.canSee');
      return forbidden();
    }
    if (!isPromiseLike(verdict)) return verdict ? undefined : forbidden();
    return Promise.resolve(verdict).then(
      (ok) => (ok ? undefined : forbidden()),
      (error) => {
        this.emit('error', error, 'access.canSee');
        return forbidden();
      },
    );
  }

  #directoryVerdicts(
    principal: unknown,
    query: DirectoryQuery | undefined,
  ): ReadonlyMap<string, boolean> | Promise<ReadonlyMap<string, boolean>> {
    const verdicts = new Map<string, boolean>();
    if (this.#open) return verdicts;
    const key = `${this.#accessEpoch}\u0000${this.#principalId(principal)}\u0000${JSON.stringify(query ?? null)}`;
    const shared = this.#pageVerdicts.get(key);
    if (shared !== undefined) return shared;
    if (this.#pageVerdicts.size === 0) queueMicrotask(() => this.#pageVerdicts.clear());
    const pending: Promise<void>[] = [];
    for (const entry of this.#directory.values()) {
      if (!matchesQuery(entry, query)) continue;
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = this.access.canSee(principal, entry.id);
      } catch {
        verdict = false;
      }
      if (!isPromiseLike(verdict)) verdicts.set(entry.id, verdict === true);
      else {
        // An asynchronous policy: the page waits for every answer (the connection's operation waits with it).
        pending.push(
          Promise.resolve(verdict).then(
            (ok) => void verdicts.set(entry.id, ok === true),
            (error: unknown) => {
              this.emit('error', error, 'access.canSee');
              verdicts.set(entry.id, false);
            },
          ),
        );
      }
    }
    const answer = pending.length === 0 ? verdicts : Promise.all(pending).then(() => verdicts);
    this.#pageVerdicts.set(key, answer);
    return answer;
  }

  #directoryBody(
    principal: unknown,
    query: DirectoryQuery | undefined,
    verdicts?: ReadonlyMap<string, boolean>,
  ): ChannelSnapshotBody {
    let entries: Iterable<DirectoryEntry> = this.#directory.values();
    if (!this.#open) {
      entries = [...this.#directory.values()].filter((entry) => {
        if (!matchesQuery(entry, query)) return false;
        const known = verdicts?.get(entry.id);
        if (known !== undefined) return known;
        // Not answered before (it appeared meanwhile): only an answer given at once counts here.
        try {
          return this.access.canSee(principal, entry.id) === true;
        } catch {
          return false;
        }
      });
    }
    const page = pageOf(entries, query);
    return new ChannelSnapshotBody(DIRECTORY, page, JSON.stringify(page));
  }

  // ------------------------------------------------------------- commands

  /** Register the handler for a command of every channel; returns a function that removes it. */
  handle<K extends CommandName<C>>(command: K, handler: CommandHandler<C, K>, options: HandleOptions = {}): () => void {
    return this.#handle(this.#handlers, command, handler as AnyHandler, options);
  }

  #handle(handlers: Map<string, HandlerEntry>, command: string, fn: AnyHandler, options: HandleOptions): () => void {
    if (!Object.hasOwn(this.contract.commands, command)) {
      throw new BoardcastError('unknown_command', `command "${command}" is not in the contract`);
    }
    if (handlers.has(command)) throw new TypeError(`command "${command}" already has a handler`);
    const entry = { fn, timeoutMs: options.timeoutMs };
    handlers.set(command, entry);
    return () => {
      if (handlers.get(command) === entry) handlers.delete(command);
    };
  }

  /**
   * Validate and run a command from the outside world. Never throws and never
   * hangs: the result is the serialized value or a `BoardcastError`.
   * `context.channel` names the channel (default {@link DEFAULT_CHANNEL});
   * `context.auth` is the principal the access policy judges.
   */
  async dispatch(command: string, rawInput: unknown, context: DispatchContext = {}): Promise<DispatchResult> {
    const started = Date.now();
    const transport = context.transport ?? 'local';
    const channel = context.channel ?? DEFAULT_CHANNEL;
    const checked = context.checkedPrincipal;
    const principal = checked ?? this.#principalId(context.auth);
    const { checkedPrincipal: _, ...rest } = context;
    const result = await this.#dispatch(
      command,
      rawInput,
      { ...rest, transport, channel, principal },
      checked !== undefined,
    );
    this.emit('command', {
      command,
      channel,
      principal,
      ok: result.ok,
      code: result.ok ? undefined : result.error.code,
      durationMs: Date.now() - started,
      transport,
      clientId: context.clientId,
    });
    return result;
  }

  /** Typed, throwing form of {@link dispatch} for server-side code and tests. */
  async call<K extends CommandName<C>>(
    command: K,
    input: CommandPayload<C, K>,
    context: DispatchContext = {},
  ): Promise<CommandResult<C, K>> {
    const result = await this.dispatch(command, input, context);
    if (!result.ok) throw result.error;
    return result.data as CommandResult<C, K>;
  }

  async #dispatch(
    command: string,
    rawInput: unknown,
    context: Omit<CommandContext, 'signal' | 'deadline'>,
    checked: boolean,
  ): Promise<DispatchResult> {
    if (this.#closed) return { ok: false, error: new BoardcastError('closed', 'hub is closed') };
    const { channel } = context;
    if (!isChannelId(channel)) {
      return { ok: false, error: new BoardcastError('invalid_payload', 'invalid channel id') };
    }
    const spec = Object.hasOwn(this.contract.commands, command) ? this.contract.commands[command] : undefined;
    if (!spec) return { ok: false, error: new BoardcastError('unknown_command', `unknown command "${command}"`) };
    if (!this.#open && !checked) {
      let allowed: boolean;
      try {
        allowed = await (this.access.canCommand
          ? this.access.canCommand(context.auth, channel, command)
          : this.access.canSee(context.auth, channel));
      } catch (error) {
        this.emit('error', error, 'access.canCommand');
        allowed = false;
      }
      if (!allowed) {
        return {
          ok: false,
          error: new BoardcastError('forbidden', `command "${command}" on channel "${channel}" is not allowed`),
        };
      }
    }
    if (this.#rate && !checked && !this.#rate.take(context.principal)) {
      // The wait rides along, so an HTTP 429 carries Retry-After (retryAfterHeader).
      const retryAfterMs = Math.ceil(this.#rate.waitMs(context.principal));
      const details = { retryAfterMs };
      return { ok: false, error: new BoardcastError('too_many_requests', 'too many commands; slow down', { details }) };
    }
    const handler = this.#channels.get(channel)?.handlers.get(command) ?? this.#handlers.get(command);
    if (!handler) {
      return { ok: false, error: new BoardcastError('unknown_command', `command "${command}" has no handler`) };
    }
    // Fail now rather than at the timeout: a command's effect reaches pages
    // (this one's included) only as events through the bus, and one routed
    // to another instance cannot get there at all.
    if (this.bus.status === 'degraded') {
      return {
        ok: false,
        error: new BoardcastError('bus_unavailable', `command "${command}" refused: the server cannot reach its bus`),
      };
    }

    const controller = new AbortController();
    const timeoutMs = handler.timeoutMs ?? this.#options.commandTimeoutMs ?? 5000;
    const deadline = performance.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.#inflight.add(controller);
    try {
      let input: unknown;
      try {
        input = await validateEntry(spec.input, rawInput, `command "${command}" input`);
      } catch (error) {
        return { ok: false, error: toBoardcastError(error, 'invalid_payload', 'invalid input') };
      }
      if (controller.signal.aborted) throw controller.signal.reason;
      const run = Promise.resolve().then(() => handler.fn(input, { ...context, signal: controller.signal, deadline }));
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new BoardcastError('timeout', `command "${command}" timed out after ${timeoutMs} ms`);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      });
      run.catch(() => undefined); // a late rejection after a timeout is not "unhandled"
      const output = await Promise.race([run, timedOut, aborted]);

      let value: unknown = output;
      try {
        value = await validateEntry(spec.result, output, `command "${command}" result`);
      } catch (error) {
        this.emit('error', error, `command "${command}" returned an invalid result`);
        return { ok: false, error: new BoardcastError('handler_failed', `command "${command}" failed`) };
      }
      let json: string;
      try {
        json = JSON.stringify(value) ?? 'null';
      } catch (error) {
        this.emit('error', error, `command "${command}" returned a non-JSON result`);
        return { ok: false, error: new BoardcastError('handler_failed', `command "${command}" failed`) };
      }
      return { ok: true, data: value, json };
    } catch (error) {
      if (error instanceof BoardcastError) return { ok: false, error };
      // Never leak a stack or an internal message to a client.
      this.emit('error', error, `command "${command}"`);
      return { ok: false, error: new BoardcastError('handler_failed', `command "${command}" failed`) };
    } finally {
      clearTimeout(timer);
      this.#inflight.delete(controller);
    }
  }

  // ------------------------------------------------------------- lifecycle

  /**
   * A shared bus: start from its checkpoints, then fold what it delivered
   * meanwhile (the events after them) without fanning them out — they
   * happened before this hub served anyone.
   */
  async #loadState(): Promise<void> {
    if (!this.bus.loadState) return;
    try {
      const loaded = await this.bus.loadState();
      const checkpoints: readonly StateCheckpoint[] =
        loaded === undefined ? [] : Array.isArray(loaded) ? loaded : [loaded as StateCheckpoint];
      for (const checkpoint of checkpoints) {
        this.#adopt(checkpoint);
        const id = checkpoint.id;
        if (id !== undefined && (this.#head === undefined || (this.#compare(id, this.#head) ?? 0) > 0)) {
          this.#head = id;
        }
      }
    } catch (error) {
      this.emit('error', error, 'bus.loadState');
    }
    const early = this.#early;
    this.#early = [];
    this.#loaded = true;
    for (const event of early) {
      if (event.event === DIRECTORY_EVENT) this.#foldDirectory(event);
      else if (event.event !== ACCESS_EVENT) {
        const record = this.#record(event.channel, true);
        if (record.head === undefined || (this.#compare(event.id, record.head) ?? 1) > 0) this.#fold(record, event);
      }
      // A channel's events after its checkpoint may be older than another channel's checkpoint: the head only grows.
      if (this.#head === undefined || (this.#compare(event.id, this.#head) ?? 1) > 0) this.#head = event.id;
    }
    for (const record of this.#channels.values()) if (record.live) this.emit('state', record.state, record.id);
  }

  /** Take a checkpoint as a channel's state (load, or a resync after events were lost). */
  #adopt(checkpoint: StateCheckpoint): void {
    if (checkpoint.channel === DIRECTORY) {
      this.#directory.clear();
      if (Array.isArray(checkpoint.state)) {
        for (const entry of checkpoint.state as DirectoryEntry[]) {
          if (entry && typeof entry.id === 'string') this.#directory.set(entry.id, entry);
        }
      }
      for (const id of this.#directory.keys()) this.#record(id, true);
      this.#directoryHead = checkpoint.id;
      return;
    }
    const record = this.#record(checkpoint.channel ?? DEFAULT_CHANNEL, true);
    record.state = checkpoint.state;
    record.head = checkpoint.id;
    record.skipUpTo = checkpoint.id;
    record.body = undefined;
    record.sinceCheckpoint = 0;
    if (record.id === DEFAULT_CHANNEL) this.#snapshot = undefined;
    this.emit('state', record.state, record.id);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stop delivering, abort running commands, end every connection, close the bus. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#inflight) controller.abort(new BoardcastError('closed', 'hub is closed'));
    this.#unsubscribeBus();
    this.#unsubscribeLost?.();
    this.#unsubscribeResync?.();
    this.#unsubscribeStatus?.();
    for (const connection of [...this.#connections]) connection.close();
    this.#listeners.clear();
    for (const waiter of this.#waiters) waiter.resolve(false);
    this.#waiters = [];
    this.emit('close');
    await this.bus.close();
    this.removeAllListeners();
  }

  // ------------------------------------------------------------- the channel handles' view

  readonly #channelHost: ChannelHost = {
    // A handle outlives its channel's removal: reading it then answers the
    // initial state without bringing the channel back (only a publish, a
    // setState or a handler does, a handler within maxChannels).
    state: (id) => this.#channels.get(id)?.state ?? this.#options.state,
    publish: (id, event, data) => this.#publishTo(id, event, data),
    setState: (id, next) => this.#setState(id, next),
    handle: (id, command, fn, options) => this.#handle(this.#record(id, true, true).handlers, command, fn, options),
    snapshotBody: (id) => {
      const record = this.#channels.get(id);
      if (record) return this.#bodyOf(record);
      const initial = this.#options.state;
      return new ChannelSnapshotBody(id, initial, JSON.stringify(initial) ?? 'null');
    },
    describe: (id, patch) => {
      const set = diffEntry(this.#directory.get(id), patch);
      if (set === undefined) return Promise.resolve();
      const change: DirectoryChange = { channel: id, set };
      const json = JSON.stringify(change);
      return this.#reported(
        this.#inOrder(undefined, () => this.bus.publish(DIRECTORY_EVENT, change, json, DIRECTORY)),
        'describe',
      ).then(() => undefined);
    },
    lastSeen: (id) => this.#directory.get(id)?.lastSeen,
    lastSeenInterval: () => this.#options.lastSeenIntervalMs ?? 30_000,
    entry: (id) => this.#directory.get(id),
    remove: (id) => {
      this.#handles.delete(id);
      const change: DirectoryChange = { channel: id, removed: true };
      const json = JSON.stringify(change);
      return this.#reported(
        this.#inOrder(undefined, () => this.bus.publish(DIRECTORY_EVENT, change, json, DIRECTORY)),
        'removeChannel',
      ).then(() => undefined);
    },
    metrics: (id) => ({
      subscribers: this.#channels.get(id)?.subscribers.size ?? 0,
      history: this.bus.channelStats?.(id) ?? { events: 0, bytes: 0, evictions: 0 },
    }),
  };
}

/** What a {@link Channel} handle asks its hub. */
interface ChannelHost {
  state(id: string): unknown;
  publish(id: string, event: string, data: unknown): Promise<string>;
  setState(id: string, next: unknown): Promise<void>;
  handle(id: string, command: string, fn: AnyHandler, options: HandleOptions): () => void;
  snapshotBody(id: string): ChannelSnapshotBody;
  describe(id: string, patch: DirectoryPatch): Promise<void>;
  lastSeen(id: string): number | undefined;
  lastSeenInterval(): number;
  entry(id: string): DirectoryEntry | undefined;
  remove(id: string): Promise<void>;
  metrics(id: string): ChannelMetrics;
}

/**
 * One channel of a hub (in a fleet, one board): the same `publish`,
 * `setState`, `state` and `handle` as the hub, scoped to the channel, plus
 * its directory entry. Get it with `hub.channel(id)`.
 */
export class Channel<C extends ContractSpec> {
  readonly id: string;
  readonly hub: Hub<C>;
  readonly #host: ChannelHost;

  /** @internal — use `hub.channel(id)`. */
  constructor(hub: Hub<C>, id: string, host: ChannelHost) {
    this.hub = hub;
    this.id = id;
    this.#host = host;
  }

  /** The channel's state after the newest event the hub folded. */
  get state(): StateOf<C> {
    return this.#host.state(this.id) as StateOf<C>;
  }

  /** Publish an event of this channel; see {@link Hub.publish}. */
  publish<K extends EventName<C>>(event: K, data: EventData<C, K>): Promise<string> {
    return this.#host.publish(this.id, event, data);
  }

  /** Change state no event changes, on this channel; see {@link Hub.setState}. */
  setState(next: StateOf<C> | ((previous: StateOf<C>) => StateOf<C>)): Promise<void> {
    return this.#host.setState(this.id, next);
  }

  /**
   * Handle a command sent to this channel (before the hub-wide handler of
   * the same command, which serves channels without their own).
   */
  handle<K extends CommandName<C>>(command: K, handler: CommandHandler<C, K>, options: HandleOptions = {}): () => void {
    return this.#host.handle(this.id, command, handler as AnyHandler, options);
  }

  /** The channel's state as a snapshot body (encoded once per state). */
  snapshotBody(): ChannelSnapshotBody {
    return this.#host.snapshotBody(this.id);
  }

  /** The channel's directory entry, if it was described. */
  get entry(): DirectoryEntry | undefined {
    return this.#host.entry(this.id);
  }

  /**
   * Set fields of the channel's directory entry (kind, name, status,
   * firmware, capabilities, lastSeen). Publishes a directory change only
   * for fields that differ, so calling it with the same values costs nothing.
   */
  describe(patch: DirectoryPatch): Promise<void> {
    return this.#host.describe(this.id, patch);
  }

  /**
   * The channel was heard from (default now, ms since the epoch): updates
   * `lastSeen` only when the stored one is older than the hub's
   * `lastSeenIntervalMs`, so a board sending every second is not a
   * directory change every second.
   */
  seen(at: number = Date.now()): Promise<void> {
    const last = this.#host.lastSeen(this.id);
    if (last !== undefined && at - last < this.#host.lastSeenInterval()) return Promise.resolve();
    return this.describe({ lastSeen: at });
  }

  /**
   * Remove the channel: its directory entry, state and history go; its
   * subscribers get `reset` (`removed`). The handle still answers after
   * (`state` and `snapshotBody()` the initial state) without bringing the
   * channel back; a `publish`, `setState` or `handle` on it does (`handle`
   * within `maxChannels`: `too_many_channels`).
   */
  remove(): Promise<void> {
    return this.#host.remove(this.id);
  }

  /** Subscribers and history figures of this channel. */
  get metrics(): ChannelMetrics {
    return this.#host.metrics(this.id);
  }
}

/** A client's stream as a transport holds it: add/remove channels, restart, close. */
export interface HubConnection {
  /** Channels held (`prefix*` for patterns, `~directory` for the directory). */
  readonly channels: readonly string[];
  readonly principalId: string;
  /** Add channels; `directory` pages `~directory` when this call adds it. */
  add(
    requests: readonly (string | import('./connection.js').ChannelRequest)[],
    options?: { readonly directory?: DirectoryQuery | undefined },
  ): Promise<SubscribeResult>;
  /**
   * Drop channels (or `prefix*` patterns: channels they already added stay
   * until dropped by id) from the set, in order with earlier `add`s;
   * resolves to the ones that were in it.
   */
  remove(channels: readonly string[]): Promise<readonly string[]>;
  restart(): void;
  close(): void;
}

function toBoardcastError(error: unknown, code: BoardcastError['code'], message: string): BoardcastError {
  return error instanceof BoardcastError ? error : new BoardcastError(code, message, { cause: error });
}

/**
 * Build a hub from a contract. The hub's type is `Hub<typeof contract>`, so
 * code that receives a hub can name it without repeating the contract.
 */
export function createHub<C extends ContractSpec>(contract: C, options: HubOptions<C>): Hub<C> {
  return new Hub(contract, options);
}
