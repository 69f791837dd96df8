import { DEFAULT_CHANNEL, DIRECTORY } from './channel.js';
import type { ChannelSnapshotBody, WireFrame } from './channel-codec.js';
import { channelForbiddenFrame, channelResetFrame } from './channel-codec.js';
import type { DirectoryQuery } from './directory.js';
import { type EncodedEvent, STATUS_EVENT } from './encoded-event.js';
import { BoardcastError } from './errors.js';
import type { SinceResult } from './history.js';
import type { EncodedSnapshot } from './snapshot.js';

/**
 * What a transport implements to receive a client's stream. Everything but
 * the first snapshot and `reset` of a connection that names no channels
 * comes through `event`: events, state changes, status, and — on a
 * connection that names channels — every frame of its channels. A
 * transport writes `sse` or `ws` of what it is given.
 */
export interface HubSink {
  snapshot(snapshot: EncodedSnapshot): void;
  event(frame: WireFrame): void;
  reset(reason: string): void;
  /**
   * Optional: the connection may no longer receive anything (its viewer
   * lost the right to see the default channel of a single-stream
   * connection). The transport ends the stream with this error.
   */
  end?(error: BoardcastError): void;
}

/** One channel a client asks for: fresh (a snapshot), or its events after `since` (or its own reset). */
export interface ChannelRequest {
  readonly channel: string;
  /** Resume this channel after this event id instead of starting from its snapshot. */
  readonly since?: string | undefined;
}

/** The outcome of adding channels to a connection. */
export interface SubscribeResult {
  /** Channels now in the set (each started with its snapshot, missed events or reset). */
  readonly added: readonly string[];
  /** Channels refused, each with why (`forbidden`, `too_many_channels`, `invalid_payload`). */
  readonly refused: readonly { readonly channel: string; readonly error: BoardcastError }[];
}

/** The parts of a hub a connection uses; one object shared by every connection. */
export interface ConnectionHost {
  /** Order two bus ids; `undefined` when they cannot be compared. */
  compare(a: string, b: string): number | undefined;
  /** The newest id the hub has folded (or the bus's origin id; `''` when it has neither). */
  head(): string;
  since(lastId: string, channel: string): SinceResult | Promise<SinceResult>;
  /** Resolves once the hub has folded `id` (true) or gives up waiting (false). */
  reached(id: string): boolean | Promise<boolean>;
  status(): EncodedEvent | undefined;
  /** The single-stream snapshot (default channel state, id = head). */
  legacySnapshot(): EncodedSnapshot;
  /** A channel's state as a snapshot body (encoded once per state). */
  snapshotBody(channel: string): ChannelSnapshotBody;
  /**
   * The access policy's answers for the directory entries `query` selects
   * (channel → may see), for {@link directoryBody}; later when the policy
   * answers later.
   */
  directoryVerdicts(
    principal: unknown,
    query: DirectoryQuery | undefined,
  ): ReadonlyMap<string, boolean> | Promise<ReadonlyMap<string, boolean>>;
  /**
   * The directory page a principal may see, built from the directory as it
   * is now: `verdicts` answers for the entries it has; any other entry (one
   * that appeared meanwhile) is asked at once, and left out when the policy
   * answers later (its change queued a re-check that lists it).
   */
  directoryBody(
    principal: unknown,
    query: DirectoryQuery | undefined,
    verdicts?: ReadonlyMap<string, boolean>,
  ): ChannelSnapshotBody;
  /** Why `principal` may not subscribe `channel` (policy, bounds), or `undefined` when it may. */
  admit(
    connection: Connection,
    channel: string,
    pending?: number,
  ): BoardcastError | undefined | Promise<BoardcastError | undefined>;
  /** Start/stop indexing the connection under a channel (its live events reach `deliver`). */
  index(connection: Connection, channel: string): void;
  unindex(connection: Connection, channel: string): void;
  /** Register/unregister a pattern subscription. */
  indexPattern(connection: Connection, prefix: string): void;
  unindexPattern(connection: Connection, prefix: string): void;
  /** Channels that exist now and start with `prefix`. */
  channelsWith(prefix: string): readonly string[];
  report(error: unknown, where: string): void;
  closed(connection: Connection): void;
}

export interface ConnectionOptions {
  /** `undefined`: the 0.1 single stream of the default channel, in its frames. */
  readonly channels?: readonly (string | ChannelRequest)[] | undefined;
  readonly lastEventId?: string | null | undefined;
  readonly events?: ReadonlySet<string> | null | undefined;
  readonly principal?: unknown;
  readonly principalId: string;
  readonly directory?: DirectoryQuery | undefined;
}

type Op = () => void | Promise<void>;

interface Start {
  readonly channel: string;
  /** Resume after this id; `undefined`: fresh snapshot. */
  readonly since: string | undefined;
}

/**
 * One client's stream over one connection: the set of channels it holds
 * and the position (the newest id written), which only grows.
 *
 * Every change of the set — the start, an add, a remove, an access
 * re-check — is an *operation*. While one runs, live events are buffered;
 * when it completes, the connection writes, in id order, the missed events
 * of the channels it resumed (only those the hub has folded) merged with the
 * buffered events of the channels it keeps, then each fresh or reset
 * channel's snapshot at the hub's head, which is at least every id written
 * so far. Holding an id therefore means holding every event of every
 * channel in the set up to it, and nothing is lost or written twice
 * whether the bus answers at once or over the network.
 */
export class Connection {
  readonly principal: unknown;
  readonly principalId: string;
  readonly legacy: boolean;
  readonly #host: ConnectionHost;
  readonly #sink: HubSink;
  readonly #filter: ReadonlySet<string> | undefined;
  readonly #set = new Set<string>();
  readonly #patterns = new Set<string>();
  #directory: DirectoryQuery | undefined;
  #position = '';
  #buffer: EncodedEvent[] | undefined;
  readonly #ops: Op[] = [];
  #running = false;
  /** A {@link recheck} is in the queue and has not started. */
  #recheckQueued = false;
  #closed = false;

  constructor(host: ConnectionHost, sink: HubSink, options: ConnectionOptions) {
    this.#host = host;
    this.#sink = sink;
    this.principal = options.principal;
    this.principalId = options.principalId;
    this.legacy = options.channels === undefined;
    this.#filter = options.events && options.events.size > 0 ? options.events : undefined;
    this.#directory = options.directory;
  }

  /** The channels in the set (the directory as `~directory`, patterns as `prefix*`). */
  get channels(): readonly string[] {
    return [...this.#set, ...[...this.#patterns].map((p) => `${p}*`)];
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Whether `channel` is in the set. */
  has(channel: string): boolean {
    return this.#set.has(channel);
  }

  /** Number of channels and patterns held (for the per-principal bound). */
  get size(): number {
    return this.#set.size + this.#patterns.size;
  }

  /** The newest id written on this connection (`''` before any). */
  get position(): string {
    return this.#position;
  }

  /** Start: the status frame, then the requested channels (`lastEventId` resumes every one of them). */
  start(requests: readonly (string | ChannelRequest)[] | undefined, lastEventId: string | null | undefined): void {
    const status = this.#host.status();
    if (status) this.#call('event', status);
    const last = lastEventId || undefined;
    // The client holds every event of its set up to `last`: that is the
    // position. A channel resumed from an older `since` then catches up
    // below it with frames that carry no id, and never pulls it back.
    if (last !== undefined) this.#position = last;
    const wanted = requests ?? [DEFAULT_CHANNEL];
    const starts = wanted.map((r) =>
      typeof r === 'string' ? { channel: r, since: last } : { channel: r.channel, since: r.since ?? last },
    );
    void this.#enqueueAdd(starts, false);
  }

  /**
   * Add channels to the set; each starts with its snapshot, missed events
   * after `since`, or reset. `directory` pages `~directory` when this call adds it.
   */
  add(
    requests: readonly (string | ChannelRequest)[],
    options: { readonly directory?: DirectoryQuery | undefined } = {},
  ): Promise<SubscribeResult> {
    if (this.legacy) return Promise.reject(new BoardcastError('invalid_payload', 'this stream names no channels'));
    if (options.directory !== undefined && !this.#set.has(DIRECTORY)) this.#directory = options.directory;
    return this.#enqueueAdd(
      requests.map((r) =>
        typeof r === 'string' ? { channel: r, since: undefined } : { channel: r.channel, since: r.since },
      ),
      false,
    );
  }

  /**
   * Drop channels (or `prefix*` patterns) from the set. Resolves with the
   * ones that were in it; nothing of them is written after that. Operations
   * queued before this call (an `add`, a `restart`, a `recheck`) complete
   * first, frames included — a transport's unsubscribe can cross frames
   * already on their way, in any case.
   */
  remove(channels: readonly string[]): Promise<readonly string[]> {
    // In order with the operations before it: an `add` still waiting (an
    // asynchronous policy or bus) completes first and is then undone, never
    // the other way round. At once when nothing waits.
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve([]);
        return;
      }
      this.#enqueue(() => {
        const removed = [...new Set(channels)].filter((channel) => this.#drop(channel));
        if (this.#buffer) this.#buffer = this.#buffer.filter((e) => this.#wants(e));
        resolve(removed);
      });
    });
  }

  /**
   * Start every channel over from a fresh snapshot, after a transport had
   * to skip events for a slow client. Channel mode writes a `reset`
   * (reason `slow`) per channel first; a single stream gets only the
   * snapshot (its transport writes the reset it always wrote).
   */
  restart(): void {
    this.#enqueue(() => {
      if (this.#buffer) this.#buffer.length = 0;
      const channels = [...this.#set];
      if (!this.legacy) for (const channel of channels) this.#writeFrame(channelResetFrame(channel, 'slow'));
      return this.#completeWithDirectory(
        [],
        channels.map((channel) => ({ channel, since: undefined })),
      );
    });
  }

  /** The policy changed: re-check every channel; the ones no longer allowed get `forbidden` and leave the set. */
  recheck(): void {
    // A re-check still waiting in the queue reads the policy when it runs, so it
    // covers every change before that: a burst of directory or access changes
    // under an asynchronous policy costs one round of policy calls and one
    // directory page per connection, not one per change.
    if (this.#recheckQueued) return;
    this.#recheckQueued = true;
    this.#enqueue(() => {
      this.#recheckQueued = false;
      const checks = [...this.#set].map((channel) => ({ channel, verdict: this.#host.admit(this, channel) }));
      const apply = (
        verdicts: readonly { channel: string; error: BoardcastError | undefined }[],
      ): void | Promise<void> => {
        for (const { channel, error } of verdicts) {
          if (error === undefined) continue;
          if (this.legacy) {
            this.close();
            this.#sink.end?.(error);
            return;
          }
          this.#drop(channel);
          this.#writeFrame(channelForbiddenFrame(channel, error));
        }
        if (this.#buffer) this.#buffer = this.#buffer.filter((e) => this.#wants(e));
        // The directory lists what the viewer may see: that may have changed too.
        const fresh = this.#set.has(DIRECTORY) ? [{ channel: DIRECTORY, since: undefined }] : [];
        return this.#completeWithDirectory([], fresh);
      };
      if (!checks.some((c) => isPromiseLike(c.verdict))) {
        return apply(checks.map((c) => ({ channel: c.channel, error: c.verdict as BoardcastError | undefined })));
      }
      return Promise.all(checks.map(async (c) => ({ channel: c.channel, error: await c.verdict }))).then(apply);
    });
  }

  /** A channel was removed from the hub: the client gets its reset (`removed`) and the initial state. */
  removed(channel: string): void {
    if (!this.#set.has(channel)) return;
    this.#enqueue(() => {
      if (this.#buffer) this.#buffer = this.#buffer.filter((e) => e.channel !== channel);
      if (this.legacy) this.#call('reset', 'removed');
      else this.#writeFrame(channelResetFrame(channel, 'removed'));
      this.#complete([], [{ channel, since: undefined }]);
    });
  }

  /**
   * A channel appeared that one of this connection's patterns matches (the
   * hub looks the prefix up): add it, silently skipped when refused.
   */
  appeared(channel: string): void {
    if (this.#set.has(channel)) return;
    void this.#enqueueAdd([{ channel, since: undefined }], true);
  }

  /** The live path: once per subscriber per event. */
  deliver(event: EncodedEvent): void {
    if (this.#closed) return;
    if (event.event === STATUS_EVENT) {
      // No id, no order to keep: the client learns the server's health at once.
      this.#call('event', event);
      return;
    }
    if (!this.#wantsName(event)) return;
    if (this.#buffer) {
      this.#buffer.push(event);
      return;
    }
    this.#write(event);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer = undefined;
    this.#ops.length = 0;
    for (const channel of this.#set) this.#host.unindex(this, channel);
    for (const prefix of this.#patterns) this.#host.unindexPattern(this, prefix);
    this.#set.clear();
    this.#patterns.clear();
    this.#host.closed(this);
  }

  // ----------------------------------------------------------- operations

  /** Queue an operation; live events are buffered from now until the last queued one completes. */
  #enqueue(op: Op): void {
    if (this.#closed) return;
    this.#buffer ??= [];
    this.#ops.push(op);
    if (!this.#running) this.#run();
  }

  #run(): void {
    while (this.#ops.length > 0 && !this.#closed) {
      const op = this.#ops.shift() as Op;
      let result: void | Promise<void>;
      try {
        result = op();
      } catch (error) {
        this.#host.report(error, 'connection');
        continue;
      }
      if (isPromiseLike(result)) {
        this.#running = true;
        const next = (): void => {
          this.#running = false;
          this.#run();
        };
        result.then(next, (error) => {
          this.#host.report(error, 'connection');
          next();
        });
        return;
      }
    }
    if (this.#closed) return;
    // No operation left: write what arrived since the last one completed, and go live.
    const pending = this.#buffer;
    this.#buffer = undefined;
    if (pending) for (const event of pending) if (this.#wants(event)) this.#write(event);
  }

  #enqueueAdd(starts: readonly Start[], fromPattern: boolean): Promise<SubscribeResult> {
    return new Promise<SubscribeResult>((resolve) => {
      if (this.#closed) {
        resolve({ added: [], refused: [] });
        return;
      }
      this.#enqueue(() => {
        const channels: Start[] = [];
        const patterns: string[] = [];
        const seen = new Set<string>();
        for (const start of starts) {
          if (seen.has(start.channel) || this.#set.has(start.channel)) continue;
          seen.add(start.channel);
          if (!this.legacy && start.channel.length > 1 && start.channel.endsWith('*')) {
            // A pattern already held is not admitted (and counted) again.
            if (!this.#patterns.has(start.channel.slice(0, -1))) patterns.push(start.channel.slice(0, -1));
          } else channels.push(start);
        }
        // A pattern is admitted on the bounds; each channel it matches, now or later, on the policy.
        const asked = [...channels.map((s) => s.channel), ...patterns.map((p) => `${p}*`)];
        const verdicts = asked.map((channel, i) => this.#host.admit(this, channel, i));
        const proceed = (errors: readonly (BoardcastError | undefined)[]): void | Promise<void> => {
          const refused: { channel: string; error: BoardcastError }[] = [];
          const allowed: Start[] = [];
          const admitted: string[] = [];
          errors.forEach((error, i) => {
            const channel = asked[i] as string;
            if (error !== undefined) {
              if (!fromPattern) refused.push({ channel, error });
            } else if (i < channels.length) allowed.push(channels[i] as Start);
            else {
              const prefix = channel.slice(0, -1);
              this.#patterns.add(prefix);
              this.#host.indexPattern(this, prefix);
              admitted.push(channel);
            }
          });
          if (this.legacy && refused.length > 0) {
            const error = (refused[0] as { error: BoardcastError }).error;
            this.close();
            this.#sink.end?.(error);
            resolve({ added: [], refused });
            return;
          }
          // Channels the new patterns match now: each on the policy, refused ones skipped silently.
          // Channels already held stay as they are: indexing one again would count it twice against the
          // principal's bound (released once) and send it a second snapshot.
          const matched = patterns
            .flatMap((prefix) => this.#host.channelsWith(prefix))
            .filter((c) => !seen.has(c) && !this.#set.has(c));
          const matchedVerdicts = matched.map((channel, i) => this.#host.admit(this, channel, allowed.length + i));
          const withMatched = (matchedErrors: readonly (BoardcastError | undefined)[]): void | Promise<void> => {
            matched.forEach((channel, i) => {
              if (matchedErrors[i] === undefined && !seen.has(channel)) {
                seen.add(channel);
                allowed.push({ channel, since: undefined });
              }
            });
            // Index first: from here on their live events are buffered with the rest.
            for (const { channel } of allowed) {
              this.#set.add(channel);
              this.#host.index(this, channel);
            }
            for (const { channel, error } of refused) this.#writeFrame(channelForbiddenFrame(channel, error));
            const result = { added: [...allowed.map((s) => s.channel), ...admitted], refused };
            const finished = this.#startChannels(allowed);
            if (!isPromiseLike(finished)) {
              resolve(result);
              return;
            }
            return finished.then(() => resolve(result));
          };
          return settle(matchedVerdicts, withMatched);
        };
        return settle(verdicts, proceed);
      });
    });
  }

  /** Resume or snapshot each channel just added, then write everything in order. */
  #startChannels(allowed: readonly Start[]): void | Promise<void> {
    const resumes = allowed.filter((s) => s.since !== undefined && s.channel !== DIRECTORY);
    const fresh = allowed.filter((s) => s.since === undefined || s.channel === DIRECTORY);
    const answers = resumes.map((start): SinceResult | Promise<SinceResult> => {
      try {
        return this.#host.since(start.since as string, start.channel);
      } catch (error) {
        this.#host.report(error, 'bus.since');
        return { kind: 'gap' };
      }
    });
    // A resume from an id this instance has not folded yet (another
    // instance's, on a shared bus) waits until it has: a snapshot taken
    // before could miss events the client holds, or repeat them.
    const newest = this.#unfolded(resumes);
    const reached = newest === undefined ? true : this.#host.reached(newest);
    const complete = (results: readonly SinceResult[], caughtUp: boolean): void | Promise<void> => {
      const replays: { start: Start; events: readonly EncodedEvent[] }[] = [];
      const resets: Start[] = [...fresh];
      results.forEach((result, i) => {
        const start = resumes[i] as Start;
        if (result.kind === 'gap' || !caughtUp) resets.push(start);
        else replays.push({ start, events: result.events });
      });
      return this.#completeWithDirectory(replays, resets);
    };
    if (!answers.some(isPromiseLike) && !isPromiseLike(reached)) {
      return complete(answers as SinceResult[], reached as boolean);
    }
    const settled = answers.map((answer) =>
      Promise.resolve(answer).catch((error): SinceResult => {
        this.#host.report(error, 'bus.since');
        return { kind: 'gap' };
      }),
    );
    return Promise.all([Promise.all(settled), Promise.resolve(reached)]).then(([results, caughtUp]) =>
      complete(results, caughtUp),
    );
  }

  /** The newest `since` of `resumes` when the hub has not folded it yet. */
  #unfolded(resumes: readonly Start[]): string | undefined {
    let newest: string | undefined;
    for (const { since } of resumes) {
      if (since !== undefined && (newest === undefined || (this.#host.compare(since, newest) ?? 0) > 0)) newest = since;
    }
    const head = this.#host.head();
    if (newest === undefined || head === '') return undefined;
    const order = this.#host.compare(newest, head);
    return order !== undefined && order > 0 ? newest : undefined;
  }

  /**
   * {@link #complete}, once the policy has answered for the directory's
   * entries when `resets` has the directory: an asynchronous policy answers
   * later, and the operation waits (live events stay in the buffer) rather
   * than write a page without what it had not answered yet. The page itself
   * is built when written, from the directory as it is then.
   */
  #completeWithDirectory(
    replays: readonly { start: Start; events: readonly EncodedEvent[] }[],
    resets: readonly Start[],
  ): void | Promise<void> {
    if (this.legacy || !resets.some((s) => s.channel === DIRECTORY)) return this.#complete(replays, resets);
    const verdicts = this.#host.directoryVerdicts(this.principal, this.#directory);
    if (!isPromiseLike(verdicts)) return this.#complete(replays, resets, verdicts);
    return verdicts.then((answers) => {
      if (!this.#closed) this.#complete(replays, resets, answers);
    });
  }

  /**
   * Write the outcome of an operation: the replays merged with what was
   * buffered for channels kept, in id order (those not newer than the
   * position as catch-up frames without id), then a snapshot at the head
   * for every fresh or reset channel (`reset` first for a resume that was a
   * gap). The head is at least every id written, so the position only grows.
   */
  #complete(
    replays: readonly { start: Start; events: readonly EncodedEvent[] }[],
    resets: readonly Start[],
    directoryVerdicts?: ReadonlyMap<string, boolean>,
  ): void {
    const head = this.#host.head();
    const snapshotted = new Set(resets.map((s) => s.channel));
    const pending = this.#buffer ?? [];
    this.#buffer = [];
    const merged: EncodedEvent[] = [];
    const ids = new Set<string>();
    const after = new Map<string, string>();
    for (const { start, events } of replays) {
      after.set(start.channel, start.since as string);
      for (const event of events) {
        // Not folded here yet: it reaches this connection live.
        if (head !== '' && (this.#host.compare(event.id, head) ?? -1) > 0) continue;
        if (!this.#wantsName(event)) continue;
        ids.add(event.id);
        merged.push(event);
      }
    }
    for (const event of pending) {
      if (snapshotted.has(event.channel) || !this.#wants(event) || ids.has(event.id)) continue;
      const since = after.get(event.channel);
      if (since !== undefined && (this.#host.compare(event.id, since) ?? 1) <= 0) continue;
      ids.add(event.id);
      merged.push(event);
    }
    if (replays.length > 0) merged.sort((a, b) => this.#host.compare(a.id, b.id) ?? 0);
    for (const event of merged) this.#write(event, replays.length > 0);
    for (const start of resets) {
      if (this.legacy) {
        if (start.since !== undefined) this.#call('reset', 'history');
        const snapshot = this.#host.legacySnapshot();
        this.#call('snapshot', snapshot);
        if (snapshot.headId) this.#position = snapshot.headId;
        continue;
      }
      if (start.since !== undefined) this.#writeFrame(channelResetFrame(start.channel, 'history'));
      const body =
        start.channel === DIRECTORY
          ? this.#host.directoryBody(this.principal, this.#directory, directoryVerdicts)
          : this.#host.snapshotBody(start.channel);
      this.#writeFrame(body.at(head));
    }
  }

  // ----------------------------------------------------------- writing

  #wantsName(event: EncodedEvent): boolean {
    return !this.#filter || this.#filter.has(event.event) || event.event[0] === '~' || event.channel === DIRECTORY;
  }

  #wants(event: EncodedEvent): boolean {
    return this.#set.has(event.channel) && this.#wantsName(event);
  }

  /**
   * Write one event. Live events always come after the position (the bus's
   * order, after everything an operation wrote), so only a replay needs
   * the comparison that turns an event the position already covers into a
   * catch-up frame without id.
   */
  #write(event: EncodedEvent, replayed = false): void {
    if (this.legacy) {
      this.#call('event', event);
      if (event.id) this.#position = event.id;
      return;
    }
    const older = replayed && this.#position !== '' && (this.#host.compare(event.id, this.#position) ?? 1) <= 0;
    this.#writeFrame(older ? event.catchUp : event.tagged);
  }

  #writeFrame(frame: WireFrame): void {
    this.#call('event', frame);
    if (frame.id) this.#position = frame.id;
  }

  /** Take `channel` (or a `prefix*` pattern) out of the set; whether it was there. */
  #drop(channel: string): boolean {
    if (this.#set.delete(channel)) {
      this.#host.unindex(this, channel);
      return true;
    }
    if (channel.length > 1 && channel.endsWith('*') && this.#patterns.delete(channel.slice(0, -1))) {
      this.#host.unindexPattern(this, channel.slice(0, -1));
      return true;
    }
    return false;
  }

  #call(method: 'snapshot' | 'event' | 'reset', arg: unknown): void {
    if (this.#closed) return;
    try {
      (this.#sink[method] as (value: unknown) => void)(arg);
    } catch (error) {
      this.#host.report(error, 'sink');
    }
  }
}

/** Run `next` with the settled values: synchronously when none is a promise. */
function settle<T, R>(
  values: readonly (T | Promise<T>)[],
  next: (settled: readonly T[]) => R,
): R | Promise<Awaited<R>> {
  if (!values.some(isPromiseLike)) return next(values as T[]);
  return Promise.all(values).then(next) as Promise<Awaited<R>>;
}

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function';
}
