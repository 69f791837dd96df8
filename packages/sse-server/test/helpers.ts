import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHub, defineContract, typed } from '@boardcast/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';
import { waitFor } from '../../../test-support/wait.js';

export const contract = defineContract({
  events: {
    led: z.object({ on: z.boolean() }),
    pin_change: typed<{ pin: string; value: 0 | 1 }>(),
    time: typed<string>(),
    blob: typed<string>(),
  },
  commands: {
    led: { input: z.object({ state: z.enum(['on', 'off', 'toggle']) }), result: typed<{ on: boolean }>() },
    whoami: { input: typed<null>(), result: typed<unknown>() },
    crash: { input: typed<null>(), result: typed<null>() },
    slow: { input: typed<null>(), result: typed<string>() },
    echo: { input: typed<unknown>(), result: typed<unknown>() },
  },
  state: typed<{ led: { on: boolean } }>(),
});

export function makeHub(history = 100) {
  const hub = createHub(contract, { state: { led: { on: false } }, history, commandTimeoutMs: 5000 });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.setState({ led: { on } });
    hub.publish('led', { on });
    return { on };
  });
  hub.handle('whoami', (_input, context) => ({ auth: context.auth ?? null, transport: context.transport }));
  hub.handle('crash', () => {
    throw new Error('secret internal detail at /srv/app.js:42');
  });
  hub.handle(
    'slow',
    (_input, { signal }) => new Promise<string>((r) => signal.addEventListener('abort', () => r('late'))),
    {
      timeoutMs: 100,
    },
  );
  hub.handle('echo', (input) => input);
  return hub;
}

export interface TestServer {
  readonly url: string;
  readonly server: Server;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1, closing its sockets on close(). */
export async function listen(
  handler: ((req: IncomingMessage, res: ServerResponse) => void) | Server,
): Promise<TestServer> {
  const server = typeof handler === 'function' ? createServer(handler) : handler;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export { waitFor };

export interface StreamReader {
  readonly response: Response;
  readonly messages: EventSourceMessage[];
  readonly comments: string[];
  readonly retries: number[];
  /** `intervalMs` of every `event: keepalive` frame, kept out of `messages`. */
  readonly keepalives: number[];
  /** True once the server ended the stream. */
  ended: boolean;
  close(): void;
}

/**
 * Open an SSE stream with fetch and parse it with eventsource-parser; `init`
 * for the rest of the request (a POST with a body).
 */
export async function openStream(
  url: string,
  headers: Record<string, string> = {},
  init: RequestInit = {},
): Promise<StreamReader> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, headers, signal: controller.signal });
  const reader: StreamReader = {
    response,
    messages: [],
    comments: [],
    retries: [],
    keepalives: [],
    ended: false,
    close: () => controller.abort(),
  };
  if (!response.ok || !response.body) {
    reader.ended = true;
    return reader;
  }
  const parser = createParser({
    onEvent: (message) => {
      if (message.event === 'keepalive')
        reader.keepalives.push((JSON.parse(message.data) as { intervalMs: number }).intervalMs);
      else reader.messages.push(message);
    },
    onComment: (comment) => reader.comments.push(comment),
    onRetry: (retry) => reader.retries.push(retry),
  });
  const decoder = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
    } catch {
      // aborted by close(), or dropped by the server: `ended` says so either way
    }
    reader.ended = true;
  })();
  return reader;
}

/** `event:data` strings, for compact order assertions. */
export function summary(messages: readonly EventSourceMessage[]): string[] {
  return messages.map((m) => `${m.event ?? 'message'}:${m.data}`);
}
