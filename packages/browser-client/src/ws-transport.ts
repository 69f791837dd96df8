import {
  BoardcastError,
  type Contract,
  type ContractSpec,
  decodeServerFrame,
  encodeWsCommand,
  encodeWsPing,
  type ServerEnvelope,
  WS_PROTOCOL,
} from '@boardcast/core';
import type { ClientOptions, LinkSink, Transport } from './client.js';
import { endpoint, withQuery } from './urls.js';

/** Any WebSocket class with the browser's API: the global one, or `WebSocket` from `ws` in Node 20. */
export type WebSocketClass = new (url: string, protocols: string) => unknown;

export interface WsOptions<C extends ContractSpec> extends ClientOptions<C> {
  /** WebSocket URL (default `<url>/ws`, with http(s) turned into ws(s)). */
  readonly wsUrl?: string | undefined;
  /** WebSocket implementation (default `globalThis.WebSocket`). */
  readonly WebSocket?: WebSocketClass | undefined;
  /** Commands issued while disconnected wait here, up to `limit` (default 100). */
  readonly queue?:
    | {
        readonly limit?: number | undefined;
        /** When full: reject the new command (default) or evict the oldest queued one; the loser rejects with `queue_full`. */
        readonly overflow?: 'reject-new' | 'drop-oldest' | undefined;
      }
    | undefined;
  /**
   * A `ping` envelope every `intervalMs` (default 20000); no frame at all
   * within `timeoutMs` (default 10000) after it means the socket is
   * half-open, and it is replaced. `false` disables.
   */
  readonly heartbeat?: { readonly intervalMs?: number; readonly timeoutMs?: number } | false | undefined;
}

interface Pending {
  readonly id: number;
  readonly frame: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoardcastError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Server errors that no amount of retrying fixes. */
const FINAL = ['unauthorized', 'forbidden', 'forbidden_origin'];

export function wsTransport<C extends ContractSpec>(
  url: string,
  _contract: Contract<C> | C,
  options: WsOptions<C>,
): Transport {
  const target = endpoint(url, '/ws', options.wsUrl);
  target.protocol = target.protocol.replace(/^http/, 'ws');
  const limit = options.queue?.limit ?? 100;
  const heartbeat =
    options.heartbeat === false ? undefined : { intervalMs: 20_000, timeoutMs: 10_000, ...options.heartbeat };
  const queue: Pending[] = [];
  const sent = new Map<number, Pending>();
  let socket: WebSocket | undefined;
  let seq = 0;

  const settle = (p: Pending, error?: BoardcastError, value?: unknown) => {
    clearTimeout(p.timer);
    sent.delete(p.id);
    const i = queue.indexOf(p);
    if (i >= 0) queue.splice(i, 1);
    if (error) p.reject(error);
    else p.resolve(value);
  };
  const send = (p: Pending) => {
    sent.set(p.id, p);
    socket?.send(p.frame);
  };

  const dial = (lastEventId: string | undefined, sink: LinkSink) => {
    const Impl = (options.WebSocket ?? globalThis.WebSocket) as typeof WebSocket | undefined;
    let ws: WebSocket;
    try {
      if (!Impl) throw new TypeError('no WebSocket implementation: pass `WebSocket` from "ws" in Node 20');
      ws = new Impl(withQuery(target, { events: options.events?.join(','), lastEventId }), WS_PROTOCOL);
    } catch (cause) {
      const error = new BoardcastError('network_error', String((cause as Error)?.message ?? cause), { cause });
      queueMicrotask(() => sink.drop(error, true));
      return () => undefined;
    }
    let interval: ReturnType<typeof setInterval> | undefined;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let serverError: BoardcastError | undefined;

    // Idempotent teardown: commands already on the wire cannot be known to
    // have run or not, so they fail rather than being sent twice.
    const down = () => {
      clearInterval(interval);
      clearTimeout(deadline);
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Kept, not nulled: the `ws` package throws on an 'error' nobody listens to.
      ws.onerror = () => undefined;
      if (socket === ws) socket = undefined;
      for (const p of [...sent.values()]) {
        settle(
          p,
          new BoardcastError('network_error', 'connection lost before the result arrived; the command may have run'),
        );
      }
      if (ws.readyState < 2) ws.close();
    };
    const fail = (error: BoardcastError, fatal?: boolean) => {
      down();
      sink.drop(error, fatal);
    };

    ws.onopen = () => {
      socket = ws;
      sink.open();
      for (const p of queue.splice(0)) send(p);
      if (heartbeat) {
        interval = setInterval(() => {
          ws.send(encodeWsPing());
          deadline ??= setTimeout(
            () => fail(new BoardcastError('timeout', `no answer to a heartbeat within ${heartbeat.timeoutMs} ms`)),
            heartbeat.timeoutMs,
          );
        }, heartbeat.intervalMs);
      }
    };
    ws.onmessage = (message) => {
      clearTimeout(deadline);
      deadline = undefined;
      let frame: ServerEnvelope;
      try {
        frame = decodeServerFrame(typeof message.data === 'string' ? message.data : '');
      } catch (error) {
        return sink.error(error as BoardcastError);
      }
      switch (frame.type) {
        case 'snapshot':
          return sink.snapshot(frame.data, frame.id);
        case 'event':
          return sink.event(frame.event, frame.data, frame.id);
        case 'reset':
          return sink.reset(frame.reason);
        case 'result': {
          const p = sent.get(Number(frame.id));
          if (!p) return;
          return frame.ok ? settle(p, undefined, frame.data) : settle(p, BoardcastError.fromJSON(frame.error));
        }
        case 'error': {
          serverError = BoardcastError.fromJSON(frame.error);
          if (FINAL.includes(serverError.code)) return fail(serverError, true);
          return sink.error(serverError);
        }
      }
    };
    // Browsers hide why an upgrade was refused; the `ws` package says it in
    // the error ("Unexpected server response: 401"), so use it when present.
    ws.onerror = (event) => {
      const status = /response: (40[13])/.exec(String((event as { message?: unknown }).message))?.[1];
      if (status) serverError = new BoardcastError(status === '401' ? 'unauthorized' : 'forbidden', `HTTP ${status}`);
    };
    ws.onclose = (event) => {
      const error =
        serverError ??
        new BoardcastError(
          'network_error',
          `connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`,
        );
      fail(error, FINAL.includes(error.code));
    };
    return down;
  };

  return {
    name: 'ws',
    dial,
    command: (name, input, timeoutMs) =>
      new Promise((resolve, reject) => {
        let frame: string;
        try {
          frame = encodeWsCommand(++seq, name, input);
        } catch (cause) {
          throw new BoardcastError('invalid_payload', 'command input is not JSON-serializable', { cause });
        }
        const p: Pending = { id: seq, frame, resolve, reject };
        p.timer = setTimeout(
          () => settle(p, new BoardcastError('timeout', `command timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
        if (socket) return send(p);
        if (queue.length >= limit) {
          const evicted = options.queue?.overflow === 'drop-oldest' ? queue[0] : p;
          if (!evicted) return settle(p, new BoardcastError('queue_full', 'offline queue is full'));
          settle(evicted, new BoardcastError('queue_full', 'offline queue is full'));
          if (evicted === p) return;
        }
        queue.push(p);
      }),
    stop(error) {
      for (const p of [...queue, ...sent.values()]) settle(p, error);
    },
  };
}
