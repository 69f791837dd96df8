import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, CHANNEL_ID, type ContractSpec, Emitter, type Hub } from '@boardcast/core';
import { type HttpReply, jsonReply } from '@boardcast/core/server';
import { parsedBodyText, readFetchBody, readJsonFrom, readNodeBody } from './body.js';
import type { AnyHub } from './hub-like.js';
import { type JsonEndpoint, type JsonEndpointOptions, type JsonHandler, jsonEndpoint } from './json-endpoint.js';
import type { BoardcastRequest, NodeRequest, NodeResponse } from './request.js';
import type { FetchConnectionInfo } from './sse-endpoint.js';

/** The shared endpoint options (see {@link JsonEndpointOptions}) and the body limit. */
export interface CommandEndpointOptions extends JsonEndpointOptions {
  /** Largest accepted request body in bytes; larger gets 413 `payload_too_large`. Default 65536. */
  readonly maxBodyBytes?: number;
}

export type CommandEndpointEvents = {
  /**
   * A request was refused before it reached `hub.dispatch` (wrong method,
   * origin, `authorize`, media type, size, bad JSON, no command name), so
   * `hub.on('command')` never sees it. Fires exactly once per such request;
   * together with `hub.on('command')` that is one report per request.
   * `command` is the name from the path, when there is one.
   */
  reject: (error: BoardcastError, request: BoardcastRequest, command: string | undefined) => void;
};

/**
 * The parts of a Fastify request the handlers use (structural: no fastify
 * dependency). `body` is what Fastify's own JSON parser produced, when it ran.
 */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly body?: unknown;
}

/** The parts of a Fastify reply the handlers use. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  hijack(): unknown;
}

/** How the adapter at hand reads the request body (at most `limit` bytes). */
type ReadBody = (limit: number) => Promise<string>;

/**
 * `POST …/commands/<name>[?channel=<id>]` with a JSON body → `hub.dispatch`
 * → 200 and the JSON result, or the error's status with
 * `{"error":{"code","message"}}` (403 `forbidden` when the access policy
 * refuses the command on that channel: nothing runs). The command name is
 * the last path segment, so the endpoint works at any mount point; a
 * missing `channel` is the default channel.
 */
export class CommandEndpoint extends Emitter<CommandEndpointEvents> {
  readonly #hub: AnyHub;
  readonly #maxBodyBytes: number;
  readonly #http: JsonEndpoint;

  constructor(hub: AnyHub, options: CommandEndpointOptions = {}) {
    super();
    this.#hub = hub;
    const max = options.maxBodyBytes ?? 65_536;
    if (!(max >= 0)) throw new RangeError('maxBodyBytes must be a number >= 0');
    this.#maxBodyBytes = max;
    this.#http = jsonEndpoint(hub, '@boardcast/sse-server commands', 'POST', options);
  }

  /** Node handler: node:http, node:http2 (`createSecureServer`), Express (`app.post('/api/commands/:name', commands.node)`). */
  readonly node = (request: NodeRequest, response: NodeResponse): void => {
    // HTTP/2's compatibility objects offer what is used here.
    const req = request as IncomingMessage;
    this.#http.node(
      req,
      response as ServerResponse,
      this.#handler((limit) => readNodeBody(req, limit)),
      true,
    );
  };

  /**
   * Fastify route handler: `app.post('/api/commands/:name', commands.fastify)`.
   * Works with Fastify's body parsing on (the default: the body it parsed
   * is checked again by the same strict rules and limit) or off.
   */
  readonly fastify = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
    reply.hijack();
    const req = request.raw;
    const parsed = request.body;
    const readBody: ReadBody = (limit) =>
      parsed === undefined || !req.readableEnded
        ? readNodeBody(req, limit)
        : new Promise<string>((resolve) => resolve(parsedBodyText(parsed, limit)));
    this.#http.node(req, reply.raw, this.#handler(readBody), true);
  };

  /** Fetch handler: Hono (`(c) => commands.fetch(c.req.raw)`), Next.js, Bun, Deno. */
  readonly fetch = (request: Request, peer: FetchConnectionInfo = {}): Promise<Response> =>
    this.#http.fetch(
      request,
      peer.remoteAddress,
      this.#handler((limit) => readFetchBody(request, limit)),
    );

  #handler(readBody: ReadBody): JsonHandler {
    return { run: (info) => this.#run(info, readBody), crashed: (error, info) => this.#crashed(error, info) };
  }

  async #run(info: BoardcastRequest, readBody: ReadBody): Promise<HttpReply> {
    const name = commandName(info.url.pathname);
    // Every early return below goes through this, so each refusal is reported once.
    const refuse = (error: BoardcastError, headers?: Record<string, string>): HttpReply => {
      this.emit('reject', error, info, name);
      return this.#http.error(error, headers);
    };
    const stop = this.#http.screen(info, refuse);
    if (stop) return stop;
    const auth = await this.#http.authorize(info);
    if (!auth.ok) return refuse(auth.error);

    if (name === undefined) return refuse(new BoardcastError('unknown_command', 'no command name in the path'));
    // `?channel=<id>`: the channel the command is for (missing: the default channel).
    const channel = info.url.searchParams.get('channel') ?? undefined;
    if (channel !== undefined && !CHANNEL_ID.test(channel)) {
      return refuse(
        new BoardcastError('invalid_payload', `invalid channel id ${JSON.stringify(channel.slice(0, 40))}`),
      );
    }

    let input: unknown;
    try {
      input = await readJsonFrom(
        { header: (header) => info.header(header), read: readBody },
        { maxBytes: this.#maxBodyBytes, what: 'the command' },
      );
    } catch (error) {
      if (error instanceof BoardcastError) return refuse(error);
      return refuse(new BoardcastError('invalid_payload', 'request body could not be read'));
    }

    const result = await this.#hub.dispatch(name, input, { transport: 'http', auth: auth.auth, channel });
    if (!result.ok) return this.#http.error(result.error);
    return jsonReply(200, result.json, this.#http.headers);
  }

  /**
   * `#run` failed unexpectedly. `hub.dispatch` never throws, so the request
   * cannot have reached it: report it as a refusal too, so none goes unlogged.
   */
  #crashed(error: unknown, info: BoardcastRequest): HttpReply {
    this.#hub.emit('error', error, 'sse-server command endpoint');
    const refusal = new BoardcastError('handler_failed', 'command failed');
    this.emit('reject', refusal, info, commandName(info.url.pathname));
    return this.#http.error(refusal);
  }
}

function commandName(pathname: string): string | undefined {
  const segments = pathname.split('/');
  let last = segments.pop();
  if (last === '') last = segments.pop();
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return undefined;
  }
}

/** Build the HTTP command endpoint for a hub. */
export function createCommandEndpoint<C extends ContractSpec>(
  hub: Hub<C>,
  options: CommandEndpointOptions = {},
): CommandEndpoint {
  return new CommandEndpoint(hub as unknown as AnyHub, options);
}
