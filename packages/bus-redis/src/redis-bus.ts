import {
  BoardcastError,
  type Bus,
  type BusListener,
  type BusStatus,
  type ChannelHistoryStats,
  type ContractSpec,
  DEFAULT_CHANNEL,
  Emitter,
  type Hub,
  type StateCheckpoint,
} from '@boardcast/core';
import { EncodedEvent, type SinceResult } from '@boardcast/core/wire';
import { Redis, type RedisOptions } from 'ioredis';
import { CommandRouter, type CommandRouterOptions, type RouterLink } from './command-router.js';
import { PUBLISH_SCRIPT, REMOVE_CHANNEL_SCRIPT, SAVE_CHECKPOINT_SCRIPT } from './scripts.js';
import { compareStreamIds, isStreamId } from './stream-id.js';

export interface RedisBusOptions {
  /**
   * Where Redis is: a URL (`redis://:password@host:6379/0`), ioredis
   * options, or an ioredis client whose settings are copied (the bus opens
   * its own connections with `duplicate()` and never uses or closes yours).
   * Default `redis://127.0.0.1:6379`.
   */
  readonly redis?: string | RedisOptions | Redis;
  /** Prefix of every key and channel; instances with the same name share events, state and commands. Default `boardcast`. */
  readonly name?: string;
  /** Events kept per channel for replay, in the channel's own stream (`XADD MAXLEN` exact). Default 100. */
  readonly history?: number;
  /** Events older than this leave a channel's stream (when the channel next publishes), in ms; 0: no age bound. Default 15 min. */
  readonly historyMaxAgeMs?: number;
  /**
   * Entries kept in the global stream, which gives every instance the
   * order and the ids; an instance cut off for longer than this many events
   * catches up from the channels' own streams and checkpoints. Default
   * `max(1000, history)`.
   */
  readonly streamLength?: number;
  /**
   * Folded events of one channel between two state checkpoints a hub
   * stores (the state a starting instance folds from). Must be below
   * `history`, so the events after a channel's newest checkpoint are
   * always still in its stream. Default `history / 4`.
   */
  readonly checkpointEvery?: number;
  /**
   * Publishes allowed to wait for Redis at once (sent but unanswered, or
   * queued while Redis is unreachable). Beyond that `publish` rejects with
   * `queue_full` instead of growing memory without bound. Default 1000.
   */
  readonly maxPendingPublishes?: number;
  /**
   * How long `since()` waits for this instance to catch up with a client
   * that comes from a faster instance before answering with a gap. Default 5000 ms.
   */
  readonly catchUpTimeoutMs?: number;
  /** Entries read per `XREAD`. Default 500. */
  readonly readBatch?: number;
  /** This instance's id for command routing (letters, digits, `_.:-`). Default random. */
  readonly instanceId?: string;
}

export type RedisBusEvents = {
  /** The bus became degraded (a Redis connection is down) or ok again. */
  status: (status: BusStatus) => void;
  /**
   * Events after `afterId` were removed from Redis (trimmed, or lost by a
   * Redis restart without persistence) before this instance could read them:
   * its live clients missed them. Close their connections to make them
   * resume, which gives them a `reset` and a fresh snapshot.
   */
  gap: (afterId: string) => void;
  /** Redis connection errors and malformed stream entries; never thrown. */
  error: (error: unknown, where: string) => void;
};

interface Waiter {
  readonly id: string;
  readonly resolve: (reached: boolean) => void;
}

interface ScriptCommands {
  boardcastPublish(
    stream: string,
    trimmed: string,
    log: string,
    channelStream: string,
    watermarks: string,
    channels: string,
    origin: string,
    stats: string,
    maxlen: number,
    seq: number,
    window: number,
    event: string,
    json: string,
    channel: string,
    history: number,
    maxAgeMs: number,
  ): Promise<string>;
  boardcastSaveCheckpoint(key: string, channel: string, id: string, json: string): Promise<number>;
  boardcastRemoveChannel(
    channelStream: string,
    watermarks: string,
    checkpoints: string,
    channels: string,
    stats: string,
    channel: string,
    id: string,
  ): Promise<number>;
}

type StreamEntry = [id: string, fields: string[]];

const INSTANCE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const BLOCK_MS = 5000;
const ORIGIN_ID = '0-0';
/** How old a channel's figures may be before reading them queues a refresh from Redis, in ms. */
const STATS_MAX_AGE_MS = 1000;
const NO_HISTORY: ChannelHistoryStats = { events: 0, bytes: 0, evictions: 0 };

/**
 * Core's `Bus` on Redis Streams. Every publish is one `XADD` (through a
 * Lua script, see scripts.ts); every instance reads the stream with a
 * blocking `XREAD` on its own connection and fans out to its own clients,
 * so all instances deliver the same events, with the same ids (the stream
 * ids), in the same order.
 */
export class RedisBus extends Emitter<RedisBusEvents> implements Bus {
  readonly name: string;
  readonly history: number;
  readonly historyMaxAgeMs: number;
  readonly streamLength: number;
  /** Checkpoints are kept per channel (the hub stores every channel's, not only the default one's). */
  readonly channelCheckpoints = true;
  readonly checkpointEvery: number;
  readonly instanceId: string;
  /**
   * Resolves once the bus knows where the stream ends and reads from there,
   * or once it is closed before that.
   */
  readonly ready: Promise<void>;
  readonly #keys: {
    stream: string;
    trimmed: string;
    checkpoints: string;
    watermarks: string;
    stats: string;
    channels: string;
    origin: string;
    publishLog: string;
    commands: string;
  };
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #sub: Redis;
  readonly #maxPending: number;
  readonly #catchUpMs: number;
  readonly #batch: number;
  readonly #listeners = new Set<BusListener>();
  readonly #lostListeners = new Set<() => void>();
  readonly #resyncListeners = new Set<(checkpoint: StateCheckpoint) => void>();
  readonly #channels = new Map<string, Set<(message: string) => void>>();
  readonly #routers = new Set<CommandRouter<ContractSpec>>();
  #waiters: Waiter[] = [];
  #position = '0-0';
  #started = false;
  #pending = 0;
  #publishSeq = 0;
  #status: BusStatus = 'degraded';
  #closed = false;
  #checkpoints: StateCheckpoint[] = [];
  /**
   * Events read before `loadState()` was called, held so that whoever folds
   * them (the hub) gets all of them, in order, even if it subscribed late.
   */
  #held: EncodedEvent[] | undefined = [];
  #positionAtClose: string | undefined;
  /** The continuity check after a reader reconnect, while it runs (the read loop delivers nothing until it is done). */
  #continuity: Promise<void> | undefined;
  #everReady = new WeakSet<Redis>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Each channel's figures as last read from Redis, and when (ms since the epoch). */
  readonly #stats = new Map<string, { readonly stats: ChannelHistoryStats; readonly at: number }>();
  /** Channels whose figures are being read or queued for the next read (one `HMGET` for all of them). */
  readonly #statsQueued = new Set<string>();
  #statsDue: string[] = [];

  constructor(options: RedisBusOptions = {}) {
    super();
    this.name = options.name ?? 'boardcast';
    this.history = options.history ?? 100;
    this.historyMaxAgeMs = options.historyMaxAgeMs ?? 15 * 60_000;
    this.streamLength = options.streamLength ?? Math.max(1000, this.history);
    this.checkpointEvery = options.checkpointEvery ?? Math.max(1, Math.floor(this.history / 4));
    this.instanceId = options.instanceId ?? randomId();
    this.#maxPending = options.maxPendingPublishes ?? 1000;
    this.#catchUpMs = options.catchUpTimeoutMs ?? 5000;
    this.#batch = options.readBatch ?? 500;
    if (!Number.isSafeInteger(this.history) || this.history < 1) throw new RangeError('history must be an integer ≥ 1');
    if (!Number.isSafeInteger(this.streamLength) || this.streamLength < 1) {
      throw new RangeError('streamLength must be an integer ≥ 1');
    }
    if (!(this.historyMaxAgeMs >= 0)) throw new RangeError('historyMaxAgeMs must be ≥ 0 (0: no age bound)');
    if (
      !Number.isSafeInteger(this.checkpointEvery) ||
      this.checkpointEvery < 1 ||
      (this.checkpointEvery >= this.history && this.history > 1)
    ) {
      throw new RangeError('checkpointEvery must be an integer ≥ 1 and below history');
    }
    if (!Number.isSafeInteger(this.#maxPending) || this.#maxPending < 1) {
      throw new RangeError('maxPendingPublishes must be an integer ≥ 1');
    }
    if (!Number.isSafeInteger(this.#batch) || this.#batch < 1) throw new RangeError('readBatch must be an integer ≥ 1');
    if (!(this.#catchUpMs >= 0)) throw new RangeError('catchUpTimeoutMs must be ≥ 0');
    if (!INSTANCE_ID.test(this.instanceId)) throw new TypeError('instanceId must match [A-Za-z0-9_.:-]{1,64}');
    if (this.name.length === 0 || /\s/.test(this.name)) throw new TypeError('name must be non-empty without spaces');

    // One hash tag for every key: all of a bus's keys live in one cluster slot, so its scripts stay valid on a Redis Cluster.
    const n = `{${this.name}}`;
    this.#keys = {
      stream: `${n}:events`,
      trimmed: `${n}:events:trimmed`,
      checkpoints: `${n}:checkpoints`,
      watermarks: `${n}:ch-trimmed`,
      stats: `${n}:ch-stats`,
      channels: `${n}:channels`,
      origin: `${n}:origin`,
      // Per bus object, so a restarted instance reusing its id never matches an old sequence.
      publishLog: `${n}:published:${this.instanceId}:${randomId()}`,
      commands: `${n}:commands`,
    };

    // Commands wait in ioredis' offline queue while Redis is away (we bound
    // publishes ourselves) and are resent after a reconnect; never give up.
    const overrides: RedisOptions = { maxRetriesPerRequest: null, enableOfflineQueue: true };
    this.#cmd = connect(options.redis, overrides);
    this.#reader = connect(options.redis, overrides);
    this.#sub = connect(options.redis, overrides);
    this.#cmd.defineCommand('boardcastPublish', { numberOfKeys: 8, lua: PUBLISH_SCRIPT });
    this.#cmd.defineCommand('boardcastSaveCheckpoint', { numberOfKeys: 1, lua: SAVE_CHECKPOINT_SCRIPT });
    this.#cmd.defineCommand('boardcastRemoveChannel', { numberOfKeys: 5, lua: REMOVE_CHANNEL_SCRIPT });
    for (const [conn, where] of [
      [this.#cmd, 'redis'],
      [this.#reader, 'redis reader'],
      [this.#sub, 'redis subscriber'],
    ] as const) {
      conn.on('error', (error: unknown) => this.emitError(error, where));
      conn.on('ready', () => this.#onReady(conn));
      for (const event of ['close', 'reconnecting', 'end']) conn.on(event, () => this.#updateStatus());
    }
    this.#reader.on('close', () => {
      if (this.#started && this.#positionAtClose === undefined) this.#positionAtClose = this.#position;
    });
    this.#sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));

    // Closed while starting: what failed under it (a connection closed under a ping, a transaction
    // answered after close) ends start-up quietly, as the checks for `#closed` in #start do.
    this.ready = this.#start().catch((error: unknown) => {
      if (!this.#closed) throw error;
    });
    this.ready.catch(() => undefined);
  }

  // ------------------------------------------------------------- Bus

  get headId(): string | undefined {
    return this.#position === '0-0' ? undefined : this.#position;
  }

  /**
   * `0-0`, before every stream id: what a snapshot of an empty stream
   * carries, so a client resuming from it receives every event since, or a
   * gap once some were trimmed.
   */
  get originId(): string {
    return ORIGIN_ID;
  }

  get status(): BusStatus {
    return this.#status;
  }

  /**
   * Call `listener` whenever `status` changes: `degraded` as soon as any of
   * the bus's three Redis connections (commands, stream reader, pub/sub) is
   * not ready, `ok` once all are again. The hub uses it to refuse commands
   * with `bus_unavailable` and to tell its clients. Returns the unsubscribe function.
   */
  onStatus(listener: (status: BusStatus) => void): () => void {
    return this.on('status', listener);
  }

  /** Publishes sent to Redis and not yet acknowledged (including those queued while it is down). */
  get pendingPublishes(): number {
    return this.#pending;
  }

  /**
   * Appends the event to the stream. Resolves with its id once this
   * instance has delivered it to its own subscribers, so a snapshot taken
   * afterwards already reflects it.
   */
  async publish(event: string, _data: unknown, json: string, channel: string = DEFAULT_CHANNEL): Promise<string> {
    if (this.#closed) throw new BoardcastError('closed', 'bus is closed');
    if (this.#pending >= this.#maxPending) {
      throw new BoardcastError('queue_full', `${this.#pending} publishes are already waiting for Redis`);
    }
    this.#pending++;
    let id: string;
    try {
      const seq = ++this.#publishSeq;
      const k = this.#keys;
      id = await this.#scripts.boardcastPublish(
        k.stream,
        k.trimmed,
        k.publishLog,
        this.#channelKey(channel),
        k.watermarks,
        k.channels,
        k.origin,
        k.stats,
        this.streamLength,
        seq,
        this.#maxPending + 1,
        event,
        json,
        channel,
        this.history,
        this.historyMaxAgeMs,
      );
    } finally {
      this.#pending--;
    }
    await this.#waitFor(id, undefined);
    return id;
  }

  #channelKey(channel: string): string {
    return `{${this.name}}:ch:${channel}`;
  }

  subscribe(listener: BusListener): () => void {
    const entry: BusListener = (event) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Order of two ids of this bus (stream ids); `undefined` when either is not one. */
  compareIds(a: string, b: string): number | undefined {
    return isStreamId(a) && isStreamId(b) ? compareStreamIds(a, b) : undefined;
  }

  /**
   * The channel's events after `lastId`, from the channel's own stream. A
   * gap when the id is malformed or from before this data's first event (a
   * Redis that lost its data), or when the channel lost an event newer than
   * `lastId` (its watermark: trimmed by count or age, or removed). A quiet
   * channel with nothing after `lastId` is never a gap, however long ago
   * its last event left the global stream.
   */
  async since(lastId: string, channel: string = DEFAULT_CHANNEL): Promise<SinceResult> {
    if (!isStreamId(lastId) || this.#closed) return { kind: 'gap' };
    const replies = await this.#cmd
      .multi()
      .hget(this.#keys.watermarks, channel)
      .get(this.#keys.origin)
      .xrange(this.#channelKey(channel), `(${lastId}`, '+')
      .exec();
    if (!replies) return { kind: 'gap' };
    for (const [error] of replies) if (error) throw error;
    const watermark = replies[0]?.[1] as string | null;
    const origin = replies[1]?.[1] as string | null;
    const after = replies[2]?.[1] as StreamEntry[];
    if (watermark !== null && isStreamId(watermark) && compareStreamIds(watermark, lastId) > 0) return { kind: 'gap' };
    if (lastId !== ORIGIN_ID && (origin === null || compareStreamIds(lastId, origin) < 0)) return { kind: 'gap' };

    // The client may come from an instance that is ahead of this one: wait
    // until this instance has delivered `lastId` itself, or the client would
    // receive those events twice (once replayed, once live).
    if (compareStreamIds(lastId, this.#position) > 0 && !(await this.#waitFor(lastId, this.#catchUpMs))) {
      return { kind: 'gap' };
    }
    // Answer only up to what this instance has delivered; the rest reaches
    // the client live, through the hub's connection buffer.
    const head = this.#position;
    const events: EncodedEvent[] = [];
    for (const entry of after) {
      if (compareStreamIds(entry[0], head) > 0) break;
      const decoded = this.#decode(entry, channel);
      if (decoded) events.push(decoded);
    }
    return { kind: 'events', events };
  }

  /**
   * Every channel's newest checkpoint, once the bus has read the events
   * after each (they reach the hub first, which folds them onto these states).
   */
  async loadState(): Promise<readonly StateCheckpoint[]> {
    await this.ready;
    const held = this.#held;
    this.#held = undefined;
    if (held) for (const event of held) this.#emitEvent(event);
    return this.#checkpoints;
  }

  onResync(listener: (checkpoint: StateCheckpoint) => void): () => void {
    const entry = (checkpoint: StateCheckpoint) => listener(checkpoint);
    this.#resyncListeners.add(entry);
    return () => {
      this.#resyncListeners.delete(entry);
    };
  }

  onCheckpointLost(listener: () => void): () => void {
    const entry = () => listener();
    this.#lostListeners.add(entry);
    return () => {
      this.#lostListeners.delete(entry);
    };
  }

  /** Store a channel's state after `id`, unless Redis already holds a newer one (one script: compare and set). */
  async saveState(id: string, json: string, channel: string = DEFAULT_CHANNEL): Promise<void> {
    if (this.#closed) return;
    await this.#scripts.boardcastSaveCheckpoint(this.#keys.checkpoints, channel, id, json);
  }

  /** Forget a removed channel's history and checkpoint up to the removal `id` (idempotent; every instance calls it). */
  async removeChannel(channel: string, id: string): Promise<void> {
    if (this.#closed || !isStreamId(id)) return;
    const k = this.#keys;
    this.#stats.delete(channel);
    await this.#scripts.boardcastRemoveChannel(
      this.#channelKey(channel),
      k.watermarks,
      k.checkpoints,
      k.channels,
      k.stats,
      channel,
      id,
    );
  }

  /**
   * What channel `channel`'s stream holds, for metrics
   * (`hub.channel(id).metrics.history`): `events` entries, `bytes` of their
   * event names and JSON (UTF-8; what a replay reads, not Redis' memory:
   * `MEMORY USAGE {<name>}:ch:<channel>` adds its per-entry overhead), and
   * `evictions`, the entries trimming (count or age) has removed since the
   * channel appeared or was last removed. The publish script keeps these in
   * Redis with the stream (`{<name>}:ch-stats`), so every instance reads the
   * same figures. Synchronous, so it answers the figures last read: reading
   * them queues a refresh (one `HMGET` for every channel asked for in that
   * turn) when they are missing or older than a second. So a program that
   * polls `metrics` sees figures at most a second and a round trip old, and
   * `undefined` (the hub shows zeros) before the first read has come back;
   * {@link readChannelStats} reads them now.
   */
  channelStats(channel: string): ChannelHistoryStats | undefined {
    const cached = this.#stats.get(channel);
    if (!this.#closed && (!cached || Date.now() - cached.at >= STATS_MAX_AGE_MS)) this.#queueStats(channel);
    return cached?.stats;
  }

  /**
   * The figures of {@link channelStats} read from Redis now, in the order of
   * `channels` (zeros for a channel that has no stream): one `HMGET` round
   * trip, O(number of channels).
   */
  async readChannelStats(channels: readonly string[]): Promise<ChannelHistoryStats[]> {
    if (channels.length === 0) return [];
    const values = await this.#cmd.hmget(this.#keys.stats, ...channels);
    const at = Date.now();
    return channels.map((channel, i) => {
      const stats = parseStats(values[i] ?? null);
      this.#stats.set(channel, { stats, at });
      return stats;
    });
  }

  #queueStats(channel: string): void {
    if (this.#statsQueued.has(channel)) return;
    this.#statsQueued.add(channel);
    this.#statsDue.push(channel);
    if (this.#statsDue.length > 1) return;
    queueMicrotask(() => {
      const due = this.#statsDue;
      this.#statsDue = [];
      this.readChannelStats(due).then(
        () => {
          for (const channel of due) this.#statsQueued.delete(channel);
        },
        (error: unknown) => {
          for (const channel of due) this.#statsQueued.delete(channel);
          if (!this.#closed) this.emitError(error, 'channel stats');
        },
      );
    });
  }

  /**
   * Route commands between instances sharing this bus: a command for a
   * board attached to another instance is run there and its result comes
   * back. See `CommandRouter`.
   */
  routeCommands<C extends ContractSpec>(hub: Hub<C>, options: CommandRouterOptions): CommandRouter<C> {
    if (this.#closed) throw new BoardcastError('closed', 'bus is closed');
    // One request subscription per bus: two routers would answer twice.
    if (this.#routers.size > 0) throw new TypeError('this bus already routes commands; close that router first');
    const router = new CommandRouter(hub, this.#routerLink, options);
    this.#routers.add(router as unknown as CommandRouter<ContractSpec>);
    router.onClose(() => this.#routers.delete(router as unknown as CommandRouter<ContractSpec>));
    return router;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const router of [...this.#routers]) void router.close();
    this.#listeners.clear();
    this.#lostListeners.clear();
    this.#resyncListeners.clear();
    this.#channels.clear();
    this.#stats.clear();
    for (const waiter of this.#waiters) waiter.resolve(false);
    this.#waiters = [];
    this.#reader.disconnect();
    this.#sub.disconnect();
    if (this.#cmd.status === 'ready') {
      // QUIT lets queued writes (a last checkpoint) reach Redis first.
      await this.#cmd.quit().catch(() => this.#cmd.disconnect());
    } else {
      this.#cmd.disconnect();
    }
    this.#updateStatus();
    this.removeAllListeners();
  }

  // ------------------------------------------------------------- internals

  protected emitError(error: unknown, where: string): void {
    this.emit('error', error, where);
  }

  /** A connection error has been printed (no `error` listener) since the bus was last `ok`. */
  #connectionErrorShown = false;

  /**
   * Without an `error` listener, connection errors are printed as one line
   * per status change, not with a stack per reconnect attempt (ioredis
   * retries every ≤ 2 s, three connections: dozens of lines a minute).
   * Every other unhandled error keeps core's report.
   */
  protected override onUnhandledError(args: readonly unknown[]): void {
    const [error, where] = args;
    if (where !== 'redis' && where !== 'redis reader' && where !== 'redis subscriber') {
      super.onUnhandledError(args);
      return;
    }
    if (this.#connectionErrorShown) return;
    this.#connectionErrorShown = true;
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      `[boardcast] redis bus degraded (${where}: ${message.replace(/\s+/g, ' ').slice(0, 200)}); reconnecting — one line per status change, add an error listener for every attempt`,
    );
  }

  get #scripts(): ScriptCommands {
    return this.#cmd as unknown as ScriptCommands;
  }

  readonly #routerLink: RouterLink = {
    instanceId: '',
    requestChannel: '',
    replyChannel: (id) => `${this.#keys.commands}:reply:${id}`,
    listen: (channel, handler) => this.#listen(channel, handler),
    send: (channel, message) => this.#cmd.publish(channel, message),
    emitError: (error, where) => this.emitError(error, where),
  };

  /**
   * Find every channel's newest checkpoint and read each channel's events
   * after it from the channel's own stream before `ready`: the hub folds
   * them onto the checkpoints, so this instance starts with exactly the
   * state at the end of the global stream, however long ago a quiet
   * channel's last event left it.
   */
  async #start(): Promise<void> {
    Object.assign(this.#routerLink, { instanceId: this.instanceId, requestChannel: this.#keys.commands });
    // All three connections up before `ready`, so `status` is 'ok' by then when Redis is.
    await Promise.all([this.#sub.ping(), this.#reader.ping()]);
    // The end first: the channels' streams are read up to it, the global stream after it.
    const tables = await this.#channelTables();
    if (this.#closed) return;
    const end = tables.end ?? '0-0';
    const { stored, watermarks } = tables;
    const channels = new Set([...tables.channels, ...Object.keys(stored)]);
    const from = new Map<string, string>();
    for (const channel of channels) {
      let start = '0-0';
      const checkpoint = parseCheckpoint(stored[channel]);
      if (checkpoint) {
        this.#checkpoints.push({ id: checkpoint.id, state: checkpoint.state, channel });
        start = checkpoint.id;
      } else if (stored[channel] !== undefined)
        this.emitError(new Error(`checkpoint of ${channel} is malformed`), 'checkpoint');
      const watermark = watermarks[channel];
      // Events after `start` that are gone cannot be folded: say so, fold what is left.
      if (watermark !== undefined && isStreamId(watermark) && compareStreamIds(watermark, start) > 0) {
        this.emitError(
          new BoardcastError(
            'bus_unavailable',
            `events of channel ${channel} after ${start} were trimmed before any checkpoint covered them: its state starts from ${checkpoint ? 'an older checkpoint' : 'the initial state'}`,
          ),
          'checkpoint',
        );
        start = watermark;
      }
      from.set(channel, start);
    }
    await this.#readChannels(from, end);
    if (this.#closed) return;
    this.#position = end;
    this.#started = true;
    void this.#readLoop();
  }

  /**
   * The newest id of the global stream (`undefined`: it is empty), then, in
   * one transaction, what says where each channel's events start: the
   * channels the bus knows, their trim watermarks and their stored
   * checkpoints (`<id> <state json>`). Start-up and a resync read both.
   */
  async #channelTables(): Promise<{
    end: string | undefined;
    channels: string[];
    watermarks: Record<string, string>;
    stored: Record<string, string>;
  }> {
    const last = (await this.#cmd.xrevrange(this.#keys.stream, '+', '-', 'COUNT', 1)) as StreamEntry[];
    const replies = await this.#cmd
      .multi()
      .smembers(this.#keys.channels)
      .hgetall(this.#keys.watermarks)
      .hgetall(this.#keys.checkpoints)
      .exec();
    if (!replies) throw new BoardcastError('bus_unavailable', 'Redis refused the transaction reading the channels');
    for (const [error] of replies) if (error) throw error;
    return {
      end: last[0]?.[0],
      channels: (replies[0]?.[1] ?? []) as string[],
      watermarks: (replies[1]?.[1] ?? {}) as Record<string, string>,
      stored: (replies[2]?.[1] ?? {}) as Record<string, string>,
    };
  }

  /**
   * Read each channel's stream after its own starting id up to `end` and
   * deliver the entries in the global order (one pipelined round trip per
   * batch of channels).
   */
  async #readChannels(from: ReadonlyMap<string, string>, end: string): Promise<void> {
    if (end === '0-0' || from.size === 0) return;
    const collected: EncodedEvent[] = [];
    const all = [...from];
    for (let i = 0; i < all.length; i += 500) {
      const batch = all.slice(i, i + 500);
      const pipeline = this.#cmd.pipeline();
      for (const [channel, start] of batch) pipeline.xrange(this.#channelKey(channel), `(${start}`, end);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach(([channel], index) => {
        const [error, entries] = replies[index] ?? [];
        if (error) {
          this.emitError(error, 'channel read');
          return;
        }
        for (const entry of (entries ?? []) as StreamEntry[]) {
          const event = this.#decode(entry, channel);
          if (event) collected.push(event);
        }
      });
    }
    collected.sort((a, b) => compareStreamIds(a.id, b.id));
    for (const event of collected) {
      if (this.#held) this.#held.push(event);
      else this.#emitEvent(event);
    }
  }

  async #readLoop(): Promise<void> {
    let backoff = 50;
    while (!this.#closed) {
      let reply: unknown;
      try {
        reply = await this.#reader.call(
          'XREAD',
          'COUNT',
          this.#batch,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.#keys.stream,
          this.#position,
        );
        backoff = 50;
      } catch (error) {
        if (this.#closed) return;
        this.emitError(error, 'redis reader');
        await new Promise<void>((resolve) => {
          this.#retryTimer = setTimeout(resolve, backoff);
        });
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      if (this.#closed) return;
      // After a reconnect, check for a hole before delivering what follows it
      // (ioredis resends the XREAD itself, so its reply may already be past one).
      await this.#afterReconnect();
      if (this.#closed) return;
      const streams = reply as [key: string, entries: StreamEntry[]][] | null;
      const entries = streams?.[0]?.[1];
      if (entries && entries.length > 0) this.#deliver(entries);
    }
  }

  #deliver(entries: StreamEntry[]): void {
    for (const entry of entries) {
      // Ids only grow; an id at or below the position was already delivered.
      if (compareStreamIds(entry[0], this.#position) <= 0) continue;
      this.#position = entry[0];
      const event = this.#decode(entry);
      if (!event) continue;
      if (this.#held) this.#held.push(event);
      else this.#emitEvent(event);
    }
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (compareStreamIds(waiter.id, this.#position) <= 0) waiter.resolve(true);
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  #emitEvent(event: EncodedEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.emitError(error, 'listener');
      }
    }
  }

  #decode([id, fields]: StreamEntry, channel?: string): EncodedEvent | undefined {
    let event: string | undefined;
    let json: string | undefined;
    let from = channel;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'e') event = fields[i + 1];
      else if (fields[i] === 'd') json = fields[i + 1];
      else if (fields[i] === 'c') from = fields[i + 1];
    }
    if (event === undefined || json === undefined) {
      this.emitError(new Error(`stream entry ${id} is not a boardcast event`), 'decode');
      return undefined;
    }
    try {
      return new EncodedEvent(id, event, JSON.parse(json), json, from ?? DEFAULT_CHANNEL);
    } catch (error) {
      this.emitError(error, 'decode');
      return undefined;
    }
  }

  /** Resolves true once this instance has delivered `id`, false on timeout or close. */
  #waitFor(id: string, timeoutMs: number | undefined): Promise<boolean> {
    if (compareStreamIds(id, this.#position) <= 0) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        id,
        resolve: (reached) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      this.#waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  #onReady(conn: Redis): void {
    const again = this.#everReady.has(conn);
    this.#everReady.add(conn);
    this.#updateStatus();
    if (!again || this.#closed) return;
    if (conn === this.#cmd) void this.#checkCheckpoint();
    // At once, not when the resent XREAD answers: on a quiet stream that is a whole BLOCK_MS
    // (5 s) later, and until then a Redis that lost the data goes unnoticed.
    if (conn === this.#reader) void this.#afterReconnect();
  }

  /** The continuity check of the last reader reconnect: started once, awaited by the reader's `ready` and the read loop alike. */
  #afterReconnect(): Promise<void> {
    const at = this.#positionAtClose;
    if (at !== undefined) {
      this.#positionAtClose = undefined;
      const previous = this.#continuity;
      const check = (async () => {
        await previous;
        await this.#checkContinuity(at);
      })().finally(() => {
        if (this.#continuity === check) this.#continuity = undefined;
      });
      this.#continuity = check;
    }
    return this.#continuity ?? Promise.resolve();
  }

  /**
   * After a reconnect: a Redis restarted without persistence lost the
   * checkpoint too. Ask the hub for one at once, so an instance starting
   * now begins from this instance's state rather than the initial one (new
   * stream ids are later than the old ones, so it folds them all on top).
   */
  async #checkCheckpoint(): Promise<void> {
    if (!this.#started || this.#position === '0-0') return;
    try {
      if ((await this.#cmd.exists(this.#keys.checkpoints)) === 0) {
        for (const listener of this.#lostListeners) listener();
      }
    } catch (error) {
      this.emitError(error, 'checkpoint check');
    }
  }

  /** After a reconnect: was anything after our position removed while we were away? */
  async #checkContinuity(at: string): Promise<void> {
    if (at === '0-0') return;
    try {
      const replies = await this.#cmd.multi().xrange(this.#keys.stream, at, at).get(this.#keys.trimmed).exec();
      if (!replies) return;
      const self = replies[0]?.[1] as StreamEntry[] | undefined;
      const trimmed = replies[1]?.[1] as string | null | undefined;
      // Neither present nor the newest trimmed entry: what followed it is
      // gone (trimmed, or Redis lost the stream).
      if ((self && self.length > 0) || trimmed === at) return;
      this.emit('gap', at);
      await this.#resync(at);
    } catch (error) {
      // Closed meanwhile (it runs from the reader's `ready` too): nothing is left to check.
      if (this.#closed) return;
      this.emitError(error, 'continuity check');
    }
  }

  /**
   * Events after `at` left the global stream before this instance read
   * them. Each channel's own stream still holds its recent events: read
   * them after `at` up to the end. A channel that lost events after `at`
   * too (its watermark is newer) adopts its newest checkpoint when that
   * covers the loss (the hub takes it as the channel's state), and is
   * reported otherwise; then reading goes on after the end.
   */
  async #resync(at: string): Promise<void> {
    const tables = await this.#channelTables();
    const end = tables.end ?? this.#position;
    const { channels, watermarks, stored } = tables;
    const from = new Map<string, string>();
    const adopted: StateCheckpoint[] = [];
    for (const channel of channels) {
      let start = at;
      const watermark = watermarks[channel];
      if (watermark !== undefined && isStreamId(watermark) && compareStreamIds(watermark, at) > 0) {
        const checkpoint = parseCheckpoint(stored[channel]);
        if (checkpoint && compareStreamIds(checkpoint.id, watermark) >= 0) {
          adopted.push({ id: checkpoint.id, state: checkpoint.state, channel });
          start = checkpoint.id;
        } else {
          this.emitError(
            new BoardcastError('bus_unavailable', `events of channel ${channel} after ${at} are lost to this instance`),
            'resync',
          );
          start = watermark;
        }
      }
      from.set(channel, start);
    }
    for (const checkpoint of adopted) {
      for (const listener of this.#resyncListeners) {
        try {
          listener(checkpoint);
        } catch (error) {
          this.emitError(error, 'resync listener');
        }
      }
    }
    await this.#readChannels(from, end);
    // Entries up to the end were delivered from the channels' streams: #deliver skips ids at or below the position.
    if (compareStreamIds(end, this.#position) > 0) this.#position = end;
    this.emitError(
      new BoardcastError(
        'bus_unavailable',
        `events after ${at} left the stream before this instance read them: caught up from the channels' streams to ${end}`,
      ),
      'resync',
    );
  }

  async #listen(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.#channels.get(channel);
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
      await this.#sub.subscribe(channel);
    }
    const entry = (message: string) => handler(message);
    set.add(entry);
    return async () => {
      const current = this.#channels.get(channel);
      if (!current) return;
      current.delete(entry);
      if (current.size === 0) {
        this.#channels.delete(channel);
        if (!this.#closed) await this.#sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  #onMessage(channel: string, message: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(message);
      } catch (error) {
        this.emitError(error, `channel ${channel}`);
      }
    }
  }

  #updateStatus(): void {
    const ok =
      !this.#closed && this.#cmd.status === 'ready' && this.#reader.status === 'ready' && this.#sub.status === 'ready';
    const next: BusStatus = ok ? 'ok' : 'degraded';
    if (next === this.#status) return;
    this.#status = next;
    if (next === 'ok' && this.#connectionErrorShown) {
      this.#connectionErrorShown = false;
      console.error('[boardcast] redis bus ok: every connection is ready again');
    }
    this.emit('status', next);
  }
}

function connect(source: string | RedisOptions | Redis | undefined, overrides: RedisOptions): Redis {
  if (source instanceof Redis) return source.duplicate(overrides);
  if (typeof source === 'string') return new Redis(source, overrides);
  return new Redis({ ...(source ?? {}), ...overrides });
}

/** A stored checkpoint is `<id> <state json>`. */
function parseCheckpoint(value: string | undefined): { id: string; state: unknown } | undefined {
  if (value === undefined) return undefined;
  const space = value.indexOf(' ');
  const id = space < 0 ? '' : value.slice(0, space);
  if (!isStreamId(id)) return undefined;
  try {
    return { id, state: JSON.parse(value.slice(space + 1)) };
  } catch {
    return undefined;
  }
}

/** `"<events> <bytes> <evictions>"` from `{<name>}:ch-stats`; zeros when absent or malformed. */
function parseStats(value: string | null): ChannelHistoryStats {
  const match = value === null ? null : /^(\d+) (\d+) (\d+)$/.exec(value);
  if (!match) return NO_HISTORY;
  return { events: Number(match[1]), bytes: Number(match[2]), evictions: Number(match[3]) };
}

function randomId(): string {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
