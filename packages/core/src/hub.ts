import { Attachment, type AttachmentHost, type HubSink } from './attachment.js';
import { type Bus, type BusStatus, MemoryBus } from './bus.js';
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
import { Emitter } from './emitter.js';
import { type EncodedEvent, STATE_EVENT, STATUS_EVENT, StateChange, StatusFrame } from './encoded-event.js';
import { BoardcastError } from './errors.js';
import type { SinceResult } from './history.js';
import { EncodedSnapshot } from './snapshot.js';
import { validateEntry, validateEntrySync } from './validate.js';

export interface CommandContext {
  /** Which transport the command came through (`http`, `ws`, `local` …). */
  readonly transport: string;
  /** Transport-specific connection id, when there is one. */
  readonly clientId?: string | undefined;
  /** Whatever the transport's `authorize` hook returned for this client. */
  readonly auth?: unknown;
  /** Aborted when the command times out, its client goes away, or the hub closes. */
  readonly signal: AbortSignal;
  /**
   * When the command times out, on the `performance.now()` clock (ms). Handlers
   * that forward work elsewhere (a remote board) pass it on so the far side
   * can drop work whose answer nobody will wait for.
   */
  readonly deadline: number;
}

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

export interface CommandLog {
  readonly command: string;
  readonly ok: boolean;
  readonly code?: BoardcastError['code'] | undefined;
  readonly durationMs: number;
  readonly transport: string;
  readonly clientId?: string | undefined;
}

export type HubEvents = {
  /** A contract event was delivered by the bus to this hub (local or remote publish) and folded into the state. */
  publish: (event: EncodedEvent) => void;
  /** The folded state changed (a reducer returned a new object, or a `setState` event arrived). */
  state: (state: unknown) => void;
  command: (log: CommandLog) => void;
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
   * Snapshot state before the first event. On a shared bus with a state
   * checkpoint (see `Bus.loadState`) the checkpoint replaces it.
   */
  readonly state: StateOf<C>;
  /** Fan-out engine; default `new MemoryBus({ history })`. */
  readonly bus?: Bus;
  /** Events kept for replay when the default bus is used (default 1000). */
  readonly history?: number;
  /** Default command timeout in ms (default 5000). */
  readonly commandTimeoutMs?: number;
  /**
   * Validate outbound events against their schemas (default false: they are
   * already typed). Events still reach the bus in the order `publish` and
   * `setState` were called, however long an async validator takes.
   */
  readonly validateEvents?: boolean;
}

/** How many `setState` frames a hub keeps for replays; an older one in a replay turns it into a reset. */
const STATE_FRAMES = 256;

/** The data of a `setState` event: the top-level fields it set and deleted, or a whole non-object value. */
type StatePatch = { readonly s: Record<string, unknown>; readonly d?: readonly string[] } | { readonly v: unknown };

export interface AttachOptions {
  /** Resume after this event id; missing/empty means a fresh connection. */
  readonly lastEventId?: string | null | undefined;
  /** Deliver only these event names; missing means all. */
  readonly events?: ReadonlySet<string> | null | undefined;
}

type AnyHandler = (input: unknown, context: CommandContext) => unknown;

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

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function';
}

/**
 * The one place a program publishes events and handles commands. Every
 * transport (SSE, WebSocket, board links) attaches to the same hub.
 */
export class Hub<C extends ContractSpec> extends Emitter<HubEvents> {
  readonly contract: C;
  readonly bus: Bus;
  /** Resolves when state has been loaded from a shared bus (immediately for the memory bus). */
  readonly ready: Promise<void>;
  readonly #options: HubOptions<C>;
  readonly #handlers = new Map<string, { fn: AnyHandler; timeoutMs: number | undefined }>();
  readonly #subscribers = new Set<(event: EncodedEvent) => void>();
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
  #state: StateOf<C>;
  #snapshot: EncodedSnapshot | undefined;
  #head: string | undefined;
  #closed = false;
  /** False until a shared bus's checkpoint is loaded; events delivered before wait in `#early`. */
  #loaded: boolean;
  #early: EncodedEvent[] = [];
  #sinceCheckpoint = 0;
  /** Publishes waiting for an async validator or an earlier publish: later ones queue behind them. */
  #queued = 0;
  #tail: Promise<void> = Promise.resolve();

  constructor(contract: C, options: HubOptions<C>) {
    super();
    this.contract = contract;
    this.#options = options;
    this.#state = options.state;
    this.#reducers = (contract.reducers ?? {}) as { readonly [name: string]: Reducer<unknown, unknown> | undefined };
    this.bus = options.bus ?? new MemoryBus({ history: options.history ?? 1000 });
    this.#head = this.bus.headId;
    this.#loaded = this.bus.loadState === undefined;
    this.#unsubscribeBus = this.bus.subscribe((event) => this.#receive(event));
    this.#unsubscribeLost = this.bus.onCheckpointLost?.(() => {
      if (this.#loaded) this.#saveCheckpoint();
    });
    this.#unsubscribeResync = this.bus.onResync?.((checkpoint) => {
      if (!this.#loaded || this.#closed) return;
      this.#state = checkpoint.state as StateOf<C>;
      this.#head = checkpoint.id;
      this.#snapshot = undefined;
      this.#sinceCheckpoint = 0;
      this.emit('state', this.#state);
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
    for (const subscriber of this.#subscribers) this.#deliver(subscriber, frame);
  }

  // ------------------------------------------------------------- state

  /** The state after the newest event this hub delivered (folded through the contract's reducers). */
  get state(): StateOf<C> {
    return this.#state;
  }

  /**
   * Change state that no event changes (a configuration, a label). It is
   * published as an event of its own, so it takes its place in the bus's
   * order like any event: a client joining at any moment sees it once,
   * inside its snapshot or as a fresh snapshot frame carrying its id.
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
    const result = this.#inOrder(undefined, () => {
      const value = typeof next === 'function' ? (next as (p: StateOf<C>) => StateOf<C>)(this.#state) : next;
      const patch = diffState(this.#state, value);
      if (patch === undefined) return undefined;
      let json: string;
      try {
        json = JSON.stringify(patch);
      } catch (error) {
        throw new BoardcastError('invalid_payload', 'state is not JSON-serializable', { cause: error });
      }
      return this.bus.publish(STATE_EVENT, patch, json);
    }).then(() => undefined);
    return this.#reported(result, 'setState');
  }

  /**
   * The current snapshot with the id of the newest event it reflects;
   * serialized once per change. Before any event its id is the bus's
   * `originId` (when it has one), never none: a client holding an id the
   * server refused (reset) must get one it can resume from, or a browser's
   * `EventSource`, which keeps its Last-Event-ID until an event carries an
   * `id:`, would send the refused one again and be reset on every reconnect.
   */
  snapshot(): EncodedSnapshot {
    const cached = this.#snapshot;
    const id = this.#head ?? this.bus.originId;
    if (cached && cached.headId === id) return cached;
    const fresh = new EncodedSnapshot(this.#state, JSON.stringify(this.#state) ?? 'null', id);
    this.#snapshot = fresh;
    return fresh;
  }

  /** Id of the newest event this hub has seen. */
  get headId(): string | undefined {
    return this.#head;
  }

  // ------------------------------------------------------------- events

  /**
   * Publish an event to every connected client. The payload is serialized
   * once here; transports only write the shared frame. The returned promise
   * resolves to the event id; it never needs a `catch` (failures are also
   * emitted as `error`), but awaiting it surfaces them.
   */
  publish<K extends EventName<C>>(event: K, data: EventData<C, K>): Promise<string> {
    let result: Promise<string>;
    try {
      result = this.#publish(event, data);
    } catch (error) {
      result = Promise.reject(error);
    }
    return this.#reported(result, 'publish');
  }

  /** Checks that need no validator run synchronously, so a bad publish fails before anything queues. */
  #publish(event: string, data: unknown): Promise<string> {
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
    return this.#inOrder(validated, () => this.bus.publish(event, data, json)) as Promise<string>;
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
    const delivered = this.#fold(event);
    if (delivered !== event) {
      // A setState change: clients get it as a snapshot frame; it is not an application event.
      for (const subscriber of this.#subscribers) this.#deliver(subscriber, delivered);
      return;
    }
    this.emit('publish', event);
    for (const subscriber of this.#subscribers) this.#deliver(subscriber, event);
  }

  #deliver(subscriber: (event: EncodedEvent) => void, event: EncodedEvent): void {
    try {
      subscriber(event);
    } catch (error) {
      this.emit('error', error, 'subscriber');
    }
  }

  /**
   * Apply one event to the state. Reducers are the contract's and run on
   * every instance and in every browser, so the state after id N is the
   * same everywhere. A reducer that throws leaves the state as it was (the
   * browser's mirror does the same) and is reported. Returns what clients
   * receive for it: the event itself, or a {@link StateChange} frame.
   */
  #fold(event: EncodedEvent): EncodedEvent {
    const previous = this.#state;
    let delivered = event;
    if (event.event === STATE_EVENT) {
      this.#state = applyPatch(previous, event.data) as StateOf<C>;
      const json = JSON.stringify(this.#state) ?? 'null';
      const change = new StateChange(event.id, event.data, event.json, json);
      this.#stateFrames.set(event.id, change);
      if (this.#stateFrames.size > STATE_FRAMES) {
        this.#stateFrames.delete(this.#stateFrames.keys().next().value as string);
      }
      this.#snapshot = new EncodedSnapshot(this.#state, json, event.id);
      delivered = change;
    } else {
      const reducer = Object.hasOwn(this.#reducers, event.event) ? this.#reducers[event.event] : undefined;
      if (reducer) {
        try {
          this.#state = reducer(previous, event.data) as StateOf<C>;
        } catch (error) {
          this.emit('error', error, `reducer "${event.event}"`);
        }
      }
    }
    this.#head = event.id;
    if (!Object.is(previous, this.#state)) this.emit('state', this.#state);
    this.#checkpoint();
    return delivered;
  }

  #checkpoint(): void {
    if (!this.bus.saveState || ++this.#sinceCheckpoint < (this.bus.checkpointEvery ?? 100)) return;
    this.#saveCheckpoint();
  }

  #saveCheckpoint(): void {
    this.#sinceCheckpoint = 0;
    const head = this.#head;
    if (head === undefined || !this.bus.saveState) return;
    try {
      const saved = this.bus.saveState(head, this.snapshot().json);
      if (isPromiseLike(saved)) saved.then(undefined, (error) => this.emit('error', error, 'bus.saveState'));
    } catch (error) {
      this.emit('error', error, 'bus.saveState');
    }
  }

  /**
   * Live events, without snapshot or replay. Returns the unsubscribe
   * function. `setState` changes are not events: listen to `state` for them
   * (and to `busStatus` for the bus's health).
   */
  subscribe(listener: (event: EncodedEvent) => void): () => void {
    const entry = (event: EncodedEvent) => {
      if (event.event !== STATE_EVENT && event.event !== STATUS_EVENT) listener(event);
    };
    this.#subscribers.add(entry);
    return () => {
      this.#subscribers.delete(entry);
    };
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Events after `lastId`, or a gap, as clients receive them: a `setState`
   * event comes as its snapshot frame, and one this hub no longer holds
   * makes the answer a gap (the client then gets a fresh snapshot).
   */
  since(lastId: string): SinceResult | Promise<SinceResult> {
    const result = this.bus.since(lastId);
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
   * Start a client's stream the way every transport must: snapshot (fresh
   * connect) or the missed events (resume) or `reset` + snapshot (gap), then
   * live events — with nothing lost or duplicated in between, whether the
   * bus answers synchronously or not. Returns the detach function.
   */
  attach(options: AttachOptions, sink: HubSink): () => void {
    const attachment = new Attachment(this.#host, sink, options.events ?? undefined);
    // Before a shared bus's checkpoint is loaded the state is not yet the
    // state at any id: the client starts once it is.
    if (this.#loaded) attachment.start(options.lastEventId);
    else void this.ready.then(() => attachment.start(options.lastEventId));
    return attachment.detach;
  }

  /** What attachments see of the hub; one object shared by every client. */
  readonly #host: AttachmentHost = {
    subscribers: this.#subscribers,
    snapshot: () => this.snapshot(),
    status: () => this.#currentStatusFrame(),
    since: (lastId) => this.since(lastId),
    report: (error, where) => this.emit('error', error, where),
  };

  // ------------------------------------------------------------- commands

  /** Register the handler for a command; returns a function that removes it. */
  handle<K extends CommandName<C>>(command: K, handler: CommandHandler<C, K>, options: HandleOptions = {}): () => void {
    if (!Object.hasOwn(this.contract.commands, command)) {
      throw new BoardcastError('unknown_command', `command "${command}" is not in the contract`);
    }
    if (this.#handlers.has(command)) throw new TypeError(`command "${command}" already has a handler`);
    const entry = { fn: handler as AnyHandler, timeoutMs: options.timeoutMs };
    this.#handlers.set(command, entry);
    return () => {
      if (this.#handlers.get(command) === entry) this.#handlers.delete(command);
    };
  }

  /**
   * Validate and run a command from the outside world. Never throws and never
   * hangs: the result is the serialized value or a `BoardcastError`.
   */
  async dispatch(
    command: string,
    rawInput: unknown,
    context: Partial<Omit<CommandContext, 'signal' | 'deadline'>> = {},
  ): Promise<DispatchResult> {
    const started = Date.now();
    const transport = context.transport ?? 'local';
    const result = await this.#dispatch(command, rawInput, { ...context, transport });
    this.emit('command', {
      command,
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
    context: Partial<Omit<CommandContext, 'signal' | 'deadline'>> = {},
  ): Promise<CommandResult<C, K>> {
    const result = await this.dispatch(command, input, context);
    if (!result.ok) throw result.error;
    return result.data as CommandResult<C, K>;
  }

  async #dispatch(
    command: string,
    rawInput: unknown,
    context: Omit<CommandContext, 'signal' | 'deadline'>,
  ): Promise<DispatchResult> {
    if (this.#closed) return { ok: false, error: new BoardcastError('closed', 'hub is closed') };
    const spec = Object.hasOwn(this.contract.commands, command) ? this.contract.commands[command] : undefined;
    const handler = this.#handlers.get(command);
    if (!spec) return { ok: false, error: new BoardcastError('unknown_command', `unknown command "${command}"`) };
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
   * A shared bus: start from its checkpoint, then fold what it delivered
   * meanwhile (the events after the checkpoint) without fanning them out —
   * they happened before this hub served anyone.
   */
  async #loadState(): Promise<void> {
    if (!this.bus.loadState) return;
    try {
      const checkpoint = await this.bus.loadState();
      if (checkpoint !== undefined) {
        this.#state = checkpoint.state as StateOf<C>;
        this.#head = checkpoint.id;
        this.#snapshot = undefined;
      }
    } catch (error) {
      this.emit('error', error, 'bus.loadState');
    }
    const early = this.#early;
    this.#early = [];
    this.#loaded = true;
    for (const event of early) this.#fold(event);
    this.emit('state', this.#state);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stop delivering, abort running commands, close the bus. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#inflight) controller.abort(new BoardcastError('closed', 'hub is closed'));
    this.#unsubscribeBus();
    this.#unsubscribeLost?.();
    this.#unsubscribeResync?.();
    this.#unsubscribeStatus?.();
    this.#subscribers.clear();
    this.emit('close');
    await this.bus.close();
    this.removeAllListeners();
  }
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
