import { Attachment, type AttachmentHost, type HubSink } from './attachment.js';
import { type Bus, MemoryBus } from './bus.js';
import type {
  CommandName,
  CommandPayload,
  CommandResult,
  ContractSpec,
  EventData,
  EventName,
  StateOf,
} from './contract.js';
import { Emitter } from './emitter.js';
import type { EncodedEvent } from './encoded-event.js';
import { BoardcastError } from './errors.js';
import type { SinceResult } from './history.js';
import { EncodedSnapshot } from './snapshot.js';
import { validateEntry } from './validate.js';

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
  /** An event was delivered by the bus to this hub (local or remote publish). */
  publish: (event: EncodedEvent) => void;
  state: (state: unknown) => void;
  command: (log: CommandLog) => void;
  /** Something went wrong that no caller will see (a handler crashed, a sink threw, the bus failed). */
  error: (error: unknown, where: string) => void;
  close: () => void;
};

export interface HubOptions<C extends ContractSpec> {
  /** Initial snapshot state. */
  readonly state: StateOf<C>;
  /** Fan-out engine; default `new MemoryBus({ history })`. */
  readonly bus?: Bus;
  /** Events kept for replay when the default bus is used (default 1000). */
  readonly history?: number;
  /** Default command timeout in ms (default 5000). */
  readonly commandTimeoutMs?: number;
  /** Validate outbound events against their schemas (default false: they are already typed). */
  readonly validateEvents?: boolean;
}

export interface AttachOptions {
  /** Resume after this event id; missing/empty means a fresh connection. */
  readonly lastEventId?: string | null | undefined;
  /** Deliver only these event names; missing means all. */
  readonly events?: ReadonlySet<string> | null | undefined;
}

type AnyHandler = (input: unknown, context: CommandContext) => unknown;

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
  readonly #unsubscribeState: (() => void) | undefined;
  readonly #inflight = new Set<AbortController>();
  #state: StateOf<C>;
  #snapshot: EncodedSnapshot | undefined;
  #head: string | undefined;
  #closed = false;

  constructor(contract: C, options: HubOptions<C>) {
    super();
    this.contract = contract;
    this.#options = options;
    this.#state = options.state;
    this.bus = options.bus ?? new MemoryBus({ history: options.history ?? 1000 });
    this.#head = this.bus.headId;
    this.#unsubscribeBus = this.bus.subscribe((event) => this.#fanOut(event));
    this.#unsubscribeState = this.bus.onState?.((state) => this.#adoptState(state));
    this.ready = this.#loadState();
  }

  // ------------------------------------------------------------- state

  get state(): StateOf<C> {
    return this.#state;
  }

  /** Replace the snapshot state (or derive it from the previous one). */
  setState(next: StateOf<C> | ((previous: StateOf<C>) => StateOf<C>)): void {
    this.#state = typeof next === 'function' ? (next as (p: StateOf<C>) => StateOf<C>)(this.#state) : next;
    this.#snapshot = undefined;
    this.emit('state', this.#state);
    if (this.bus.saveState) {
      try {
        const saved = this.bus.saveState(JSON.stringify(this.#state));
        if (isPromiseLike(saved)) saved.then(undefined, (error) => this.emit('error', error, 'bus.saveState'));
      } catch (error) {
        this.emit('error', error, 'bus.saveState');
      }
    }
  }

  /** State set by another instance sharing the bus: adopt it, never save it back. */
  #adoptState(state: unknown): void {
    if (this.#closed) return;
    this.#state = state as StateOf<C>;
    this.#snapshot = undefined;
    this.emit('state', this.#state);
  }

  /** The current snapshot with the id of the newest event it reflects; serialized once per change. */
  snapshot(): EncodedSnapshot {
    const cached = this.#snapshot;
    if (cached && cached.headId === this.#head) return cached;
    const fresh = new EncodedSnapshot(this.#state, JSON.stringify(this.#state) ?? 'null', this.#head);
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
    const result = this.#publish(event, data);
    result.catch(() => undefined);
    return result;
  }

  async #publish(event: string, data: unknown): Promise<string> {
    if (this.#closed) throw new BoardcastError('closed', 'hub is closed');
    const spec = this.contract.events;
    if (!Object.hasOwn(spec, event)) throw new BoardcastError('invalid_payload', `unknown event "${event}"`);
    let json: string;
    try {
      json = JSON.stringify(data) ?? 'null';
    } catch (error) {
      throw new BoardcastError('invalid_payload', `event "${event}" is not JSON-serializable`, { cause: error });
    }
    if (this.#options.validateEvents) {
      const entry = spec[event];
      if (entry) await validateEntry(entry, data, `event "${event}"`);
    }
    try {
      const id = this.bus.publish(event, data, json);
      return isPromiseLike<string>(id) ? await id : id;
    } catch (error) {
      this.emit('error', error, 'bus.publish');
      throw error;
    }
  }

  #fanOut(event: EncodedEvent): void {
    this.#head = event.id;
    this.emit('publish', event);
    for (const subscriber of this.#subscribers) {
      try {
        subscriber(event);
      } catch (error) {
        this.emit('error', error, 'subscriber');
      }
    }
  }

  /** Live events, without snapshot or replay. Returns the unsubscribe function. */
  subscribe(listener: (event: EncodedEvent) => void): () => void {
    const entry = (event: EncodedEvent) => listener(event);
    this.#subscribers.add(entry);
    return () => {
      this.#subscribers.delete(entry);
    };
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Events after `lastId`, or a gap. */
  since(lastId: string): SinceResult | Promise<SinceResult> {
    return this.bus.since(lastId);
  }

  /**
   * Start a client's stream the way every transport must: snapshot (fresh
   * connect) or the missed events (resume) or `reset` + snapshot (gap), then
   * live events — with nothing lost or duplicated in between, whether the
   * bus answers synchronously or not. Returns the detach function.
   */
  attach(options: AttachOptions, sink: HubSink): () => void {
    const attachment = new Attachment(this.#host, sink, options.events ?? undefined);
    attachment.start(options.lastEventId);
    return attachment.detach;
  }

  /** What attachments see of the hub; one object shared by every client. */
  readonly #host: AttachmentHost = {
    subscribers: this.#subscribers,
    snapshot: () => this.snapshot(),
    since: (lastId) => this.bus.since(lastId),
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

  async #loadState(): Promise<void> {
    if (!this.bus.loadState) return;
    try {
      const loaded = await this.bus.loadState();
      if (loaded !== undefined) {
        this.#state = loaded as StateOf<C>;
        this.#snapshot = undefined;
        this.emit('state', this.#state);
      }
    } catch (error) {
      this.emit('error', error, 'bus.loadState');
    }
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
    this.#unsubscribeState?.();
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
