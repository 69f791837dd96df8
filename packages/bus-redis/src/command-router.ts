import {
  BoardcastError,
  type CommandContext,
  type CommandHandler,
  type CommandName,
  type CommandResult,
  type ContractSpec,
  DEFAULT_CHANNEL,
  type HandleOptions,
  type Hub,
} from '@boardcast/core';

/**
 * What the router needs from its bus: pub/sub on Redis and the error route.
 * RedisBus implements it; declared here so the router does not import the bus.
 */
export interface RouterLink {
  readonly instanceId: string;
  readonly requestChannel: string;
  replyChannel(instanceId: string): string;
  /** Resolves once subscribed; the returned function resolves once unsubscribed. */
  listen(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** Resolves to the number of subscribers that received the message. */
  send(channel: string, message: string): Promise<number>;
  emitError(error: unknown, where: string): void;
}

export interface CommandRouterOptions {
  /**
   * Does this instance run `command` for `input`? Typically: is the board
   * the input names attached here. At most one instance may own a given
   * command + input, or it would run twice.
   *
   * Leave it out to route by channel: the instance that owns a channel is
   * the one with a handler for it (`hub.channel(id).handle(…)`), and the
   * router forwards every contract command sent to a channel this instance
   * has no handler for.
   */
  readonly owns?: (command: string, input: unknown) => boolean;
  /** How long to wait for the owning instance's result. Default 5000 ms (the hub's own timeout also applies). */
  readonly timeoutMs?: number;
}

interface Pending {
  /** Instances that received the request, once PUBLISH has told us. */
  expected: number | undefined;
  declined: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface RequestMessage {
  readonly type: 'request';
  readonly id: number;
  readonly from: string;
  readonly command: string;
  readonly input: unknown;
  readonly clientId?: string;
  /** The channel the command is for. */
  readonly channel?: string;
  /** The sender's principal id, already checked against the access policy where the command arrived. */
  readonly principal?: string;
}

interface ResponseMessage {
  readonly type: 'response';
  readonly id: number;
  readonly owned: boolean;
  readonly ok?: boolean;
  readonly data?: unknown;
  readonly error?: unknown;
}

/**
 * Runs commands on the instance that owns them. Every instance's router
 * listens on one request channel; a request is answered by every router
 * that received it — "not mine" at once, or the result from the owner — so
 * the sender knows, without any registry that could go stale, when nobody
 * owns it (`board_offline`). Requests carry the command's input only: the
 * transport's `auth` is not forwarded (check it where the client connects).
 */
export class CommandRouter<C extends ContractSpec> {
  /** Resolves once this instance receives requests and replies. */
  readonly ready: Promise<void>;
  readonly #hub: Hub<C>;
  readonly #link: RouterLink;
  readonly #owns: CommandRouterOptions['owns'];
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #removers: (() => void)[] = [];
  readonly #stops: (() => Promise<void>)[] = [];
  readonly #onClose: (() => void)[] = [];
  #seq = 0;
  #closed = false;

  constructor(hub: Hub<C>, link: RouterLink, options: CommandRouterOptions) {
    if (options.owns !== undefined && typeof options.owns !== 'function') {
      throw new TypeError('routeCommands: owns must be a function (command, input) => boolean');
    }
    this.#hub = hub;
    this.#link = link;
    this.#owns = options.owns;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    if (!(this.#timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.ready = this.#start();
    this.ready.catch((error) => link.emitError(error, 'command router'));
    // By channel: every command a channel here has no handler for goes to the instance that has one.
    if (!this.#owns) for (const command of Object.keys(hub.contract.commands)) this.forward(command as CommandName<C>);
  }

  /**
   * Like `hub.handle`, for a command that this instance runs when it owns
   * the input and forwards to the owning instance otherwise.
   */
  handle<K extends CommandName<C>>(command: K, handler: CommandHandler<C, K>, options?: HandleOptions): () => void {
    const remove = this.#hub.handle(
      command,
      (input, context) =>
        this.#ownsSafely(command, input, context.channel)
          ? handler(input, context)
          : this.#forward(command, input, context),
      options,
    );
    this.#removers.push(remove);
    return remove;
  }

  /** For a command this instance never runs itself: always forwarded to the owning instance. */
  forward<K extends CommandName<C>>(command: K, options?: HandleOptions): () => void {
    const remove = this.#hub.handle(command, (input, context) => this.#forward(command, input, context), options);
    this.#removers.push(remove);
    return remove;
  }

  /**
   * Stop answering and forwarding; pending forwards fail with `closed`.
   * Resolves once Redis no longer counts this instance as a receiver.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const remove of this.#removers) remove();
    for (const pending of this.#pending.values()) pending.reject(new BoardcastError('closed', 'command router closed'));
    this.#pending.clear();
    for (const fn of this.#onClose) fn();
    await Promise.all(this.#stops.map((stop) => stop()));
  }

  /** @internal */
  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  // ------------------------------------------------------------- internals

  async #start(): Promise<void> {
    const stops = await Promise.all([
      this.#link.listen(this.#link.requestChannel, (message) => this.#onRequest(message)),
      this.#link.listen(this.#link.replyChannel(this.#link.instanceId), (message) => this.#onResponse(message)),
    ]);
    if (this.#closed) await Promise.all(stops.map((stop) => stop()));
    else this.#stops.push(...stops);
  }

  #ownsSafely(command: string, input: unknown, channel: string): boolean {
    try {
      return this.#owns ? this.#owns(command, input) === true : this.#hub.handlesChannel(channel, command);
    } catch (error) {
      this.#link.emitError(error, 'owns');
      return false;
    }
  }

  async #forward<K extends CommandName<C>>(
    command: K,
    input: unknown,
    context: CommandContext,
  ): Promise<CommandResult<C, K>> {
    if (this.#closed) throw new BoardcastError('closed', 'command router closed');
    await this.ready;
    const id = ++this.#seq;
    const request: RequestMessage = {
      type: 'request',
      id,
      from: this.#link.instanceId,
      command,
      input,
      channel: context.channel,
      principal: context.principal,
      ...(context.clientId === undefined ? {} : { clientId: context.clientId }),
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const result = new Promise<unknown>((resolve, reject) => {
      const pending: Pending = { expected: undefined, declined: 0, resolve, reject };
      this.#pending.set(id, pending);
      timer = setTimeout(
        () => reject(new BoardcastError('timeout', `no instance answered "${command}" within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      onAbort = () => reject(context.signal.reason);
      context.signal.addEventListener('abort', onAbort, { once: true });
      this.#link.send(this.#link.requestChannel, JSON.stringify(request)).then(
        (receivers) => {
          // Our own subscription counts too.
          pending.expected = receivers - 1;
          this.#settleIfNobody(id, pending, command);
        },
        (error) => reject(new BoardcastError('board_offline', 'command routing is unavailable', { cause: error })),
      );
    });
    try {
      return (await result) as CommandResult<C, K>;
    } finally {
      clearTimeout(timer);
      if (onAbort) context.signal.removeEventListener('abort', onAbort);
      this.#pending.delete(id);
    }
  }

  #settleIfNobody(id: number, pending: Pending, command: string): void {
    if (pending.expected !== undefined && pending.declined >= pending.expected) {
      this.#pending.delete(id);
      pending.reject(new BoardcastError('board_offline', `no instance serves "${command}" for this input`));
    }
  }

  #onRequest(message: string): void {
    const request = parse(message) as RequestMessage | undefined;
    if (
      request?.type !== 'request' ||
      typeof request.id !== 'number' ||
      typeof request.from !== 'string' ||
      typeof request.command !== 'string'
    ) {
      this.#link.emitError(new Error('malformed command request'), 'command router');
      return;
    }
    if (request.from === this.#link.instanceId || this.#closed) return;
    const reply = (body: string) =>
      this.#link
        .send(this.#link.replyChannel(request.from), body)
        .catch((error) => this.#link.emitError(error, 'command reply'));
    const head = `{"type":"response","id":${request.id}`;
    const channel = typeof request.channel === 'string' ? request.channel : DEFAULT_CHANNEL;
    if (!this.#ownsSafely(request.command, request.input, channel)) {
      void reply(`${head},"owned":false}`);
      return;
    }
    const clientId = typeof request.clientId === 'string' ? request.clientId : undefined;
    const checkedPrincipal = typeof request.principal === 'string' ? request.principal : undefined;
    const context = { transport: 'redis', clientId, channel, checkedPrincipal };
    void this.#hub.dispatch(request.command, request.input, context).then((result) => {
      // The result JSON was serialized once by the hub; embed it as is.
      if (result.ok) void reply(`${head},"owned":true,"ok":true,"data":${result.json}}`);
      else void reply(`${head},"owned":true,"ok":false,"error":${JSON.stringify(result.error.toJSON())}}`);
    });
  }

  #onResponse(message: string): void {
    const response = parse(message) as ResponseMessage | undefined;
    if (response?.type !== 'response' || typeof response.id !== 'number') {
      this.#link.emitError(new Error('malformed command response'), 'command router');
      return;
    }
    const pending = this.#pending.get(response.id);
    if (!pending) return; // late answer after a timeout, or from a second owner
    if (!response.owned) {
      pending.declined++;
      this.#settleIfNobody(response.id, pending, 'command');
      return;
    }
    this.#pending.delete(response.id);
    if (response.ok === true) pending.resolve(response.data);
    else pending.reject(BoardcastError.fromJSON(response.error));
  }
}

function parse(message: string): unknown {
  try {
    return JSON.parse(message);
  } catch {
    return undefined;
  }
}
