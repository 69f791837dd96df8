import { BoardcastError, type ClientContract, type ContractSpec, ERROR_CODES, type ErrorCode } from '@boardcast/core';
import {
  decodeServerFrame,
  encodeWsCommand,
  encodeWsPing,
  type ServerEnvelope,
  WS_PROTOCOL,
} from '@boardcast/core/wire';
import { type KeepAliveOptions, watchdog } from './backoff.js';
import type { ClientOptions, LinkSink, Transport } from './client.js';
import { createSkipper } from './resync.js';
import type { ShareOptions } from './share.js';
import { endpoint, withQuery } from './urls.js';

/** Any WebSocket class with the browser's API: the global one, or `WebSocket` from `ws` in Node 20. */
export type WebSocketClass = new (url: string, protocols: string) => unknown;

export interface WsOptions<C extends ContractSpec> extends ClientOptions<C>, KeepAliveOptions, ShareOptions {
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
   * The largest `event` or `snapshot` frame, in characters (default 1 MiB).
   * A larger event is skipped alone, as with SSE (`error`, then every event
   * after it; `reset` + a mended state when a reducer depends on it); when
   * the first snapshot itself is larger, it stops with `payload_too_large`.
   * Command results are not limited by it.
   */
  readonly maxEventSize?: number | undefined;
}

interface Pending {
  readonly id: number;
  readonly frame: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoardcastError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Server errors that no amount of retrying fixes. */
const FINAL = ['unauthorized', 'forbidden', 'forbidden_origin', 'forbidden_host'];
/** The head of an event envelope: event name (JSON), id (JSON). */
const SKIPPABLE = /^\{"type":"event","event":("(?:[^"\\]|\\.)*"),"id":("(?:[^"\\]|\\.)*")/;
/** 4xx statuses that say "not now" rather than "never like this". */
const TRANSIENT = [408, 425, 429];

export function wsTransport<C extends ContractSpec>(
  url: string,
  _contract: C | ClientContract<C>,
  options: WsOptions<C>,
): Transport {
  const target = endpoint(url, '/ws', options.wsUrl);
  target.protocol = target.protocol.replace(/^http/, 'ws');
  const limit = options.queue?.limit ?? 100;
  const maxEventSize = options.maxEventSize ?? 1 << 20;
  const queue: Pending[] = [];
  const sent = new Map<number, Pending>();
  let socket: WebSocket | undefined;
  let seq = 0;
  // The last refusal that would come again unchanged (`<status> <code>`): the
  // same one on the next attempt stops the client instead of looping.
  let refusal: string | undefined;

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
    // Why the server refused, when it said so (an upgrade's HTTP status, an `error` envelope before the stream began).
    let refused: { error: BoardcastError; status: number } | undefined;
    // A fresh connection still waiting for its snapshot.
    let fresh = !lastEventId;
    // Nothing of the stream (snapshot, event, reset) has arrived yet.
    let started = false;
    // Torn down: a late answer (the upgrade probe below) changes nothing.
    let gone = false;
    // Started at dial time: an upgrade that never gets an answer through a silent link is bounded too.
    const dog = watchdog(options, (ms) =>
      fail(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)),
    );

    // Idempotent teardown: commands already on the wire cannot be known to
    // have run or not, so they fail rather than being sent twice.
    const down = () => {
      gone = true;
      clearInterval(interval);
      dog.stop();
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
    const fail = (error: BoardcastError, fatal?: boolean, skip?: string) => {
      down();
      if (skip) sink.reset(skip);
      // A state still being mended (resync.ts) cannot be resumed: the next connection starts fresh.
      sink.drop(error, fatal, skipper.stop() || !!skip);
    };
    // Events over maxEventSize are skipped alone; it sees what this socket delivers.
    const skipper = createSkipper(
      _contract.reducers,
      () => sideSnapshot(Impl as typeof WebSocket),
      sink,
      (error) => fail(error),
    );
    // The same rules as SSE: final codes stop; a refusal that would repeat
    // (below 500, not 408/429) drops the resume id once, or stops when it
    // is the same as the previous attempt's.
    const refuse = ({ error, status }: { error: BoardcastError; status: number }) => {
      const key = `${status} ${error.code}`;
      const repeats = status < 500 && !TRANSIENT.includes(status);
      const again = refusal === key;
      refusal = repeats ? key : undefined;
      if (repeats && lastEventId && !FINAL.includes(error.code)) return fail(error, false, 'resume_refused');
      fail(error, FINAL.includes(error.code) || (repeats && again));
    };

    ws.onopen = () => {
      dog.beat();
      socket = ws;
      sink.open();
      for (const p of queue.splice(0)) send(p);
      // Pings only when liveness is checked (the answers are what proves the
      // link alive), and never at a period of 0 or one past 2^31-1 ms, which a
      // timer would turn into a ping storm.
      const period = options.keepAliveMs ?? 15_000;
      if ((options.missedKeepAlives ?? 2) > 0 && period > 0) {
        interval = setInterval(() => ws.send(encodeWsPing()), Math.min(period, 2 ** 31 - 1));
      }
    };
    ws.onmessage = (message) => {
      dog.beat();
      const text = typeof message.data === 'string' ? message.data : '';
      // Results are the commands' business; events and snapshots have a limit.
      if (text.length > maxEventSize && !text.startsWith('{"type":"result"')) {
        // An event's head names it (core's encoder writes type, event, id first): skip it alone.
        const head = SKIPPABLE.exec(text.slice(0, 1024));
        if (head) return skipper.skip(JSON.parse(head[2] as string), JSON.parse(head[1] as string), text.length);
        const error = new BoardcastError('payload_too_large', `a frame exceeded maxEventSize (${maxEventSize})`);
        // A fresh connection's snapshot that is too large can never be read; an
        // event is skipped by coming back fresh (resuming would replay it).
        return fresh ? fail(error, true) : fail(error, false, 'too_large');
      }
      let frame: ServerEnvelope;
      try {
        frame = decodeServerFrame(text);
      } catch (error) {
        return sink.error(error as BoardcastError);
      }
      switch (frame.type) {
        case 'snapshot':
          fresh = false;
          started = true;
          refusal = undefined;
          skipper.stop();
          return sink.snapshot(frame.data, frame.id);
        case 'event':
          // Only a channel connection (ws-channels.ts) gets id-less catch-up events.
          if (frame.id === null) return sink.error(new BoardcastError('invalid_payload', 'event without id'));
          started = true;
          refusal = undefined;
          sink.event(frame.event, frame.data, frame.id);
          return skipper.event(frame.id, frame.event, frame.data);
        case 'reset':
          started = true;
          return sink.reset(frame.reason);
        case 'status':
          return sink.server(frame.data);
        case 'result': {
          const p = sent.get(Number(frame.id));
          if (!p) return;
          return frame.ok ? settle(p, undefined, frame.data) : settle(p, BoardcastError.fromJSON(frame.error));
        }
        case 'error': {
          const error = BoardcastError.fromJSON(frame.error);
          // Before the stream began, an error is the server refusing this
          // connection (a resume id it cannot use, a policy): judged like a
          // refused upgrade. Later, one it closes with says why.
          if (!started || FINAL.includes(error.code)) return refuse({ error, status: error.status });
          refused = { error, status: error.status };
          return sink.error(error);
        }
      }
    };
    // Browsers hide why an upgrade was refused; the `ws` package says it in
    // the error ("Unexpected server response: 400"), so use it when present.
    ws.onerror = (event) => {
      const status = Number(/response: (\d{3})/.exec(String((event as { message?: unknown }).message))?.[1]);
      if (status) {
        // As for HTTP: a bare 404 is a path nobody serves, not an unknown command.
        const code =
          status === 404
            ? 'not_found'
            : (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === status);
        refused = { error: new BoardcastError(code ?? 'handler_failed', `HTTP ${status}`), status };
      }
    };
    ws.onclose = (event) => {
      if (refused && !socket) return refuse(refused);
      // Never opened and the browser hides why: ask the same address over
      // plain HTTP once. An HTTP answer means the server is up but the
      // upgrade did not reach it (a proxy that drops Upgrade): said as
      // such, and twice in a row stops the client instead of looping.
      if (!socket && !started && typeof fetch === 'function') {
        const lost = new BoardcastError('network_error', `connection closed (${event.code})`);
        void fetch(target.href.replace(/^ws/, 'http'), { cache: 'no-store' }).then(
          (res) => {
            if (gone) return;
            const error = new BoardcastError(
              'upgrade_failed',
              `HTTP ${res.status} but no WebSocket: a proxy drops the upgrade (nginx: proxy_set_header Upgrade, Connection)`,
            );
            refuse({ error, status: 426 });
          },
          () => gone || fail(lost),
        );
        return;
      }
      const error =
        refused?.error ??
        new BoardcastError(
          'network_error',
          `connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`,
        );
      fail(error, FINAL.includes(error.code));
    };
    return down;
  };

  /**
   * A second socket read up to its first snapshot, then closed: what mends
   * the state after a skipped event (resync.ts). It carries no commands.
   */
  const sideSnapshot = (Impl: typeof WebSocket) =>
    new Promise<{ state: unknown; id: string }>((resolve, reject) => {
      const side = new Impl(withQuery(target, { events: options.events?.join(',') }), WS_PROTOCOL);
      const end = (error?: BoardcastError) => {
        clearTimeout(timer);
        side.onmessage = side.onclose = null;
        side.onerror = () => undefined;
        if (side.readyState < 2) side.close();
        if (error) reject(error);
      };
      const timer = setTimeout(() => end(new BoardcastError('timeout', 'no snapshot on the side connection')), 10_000);
      side.onmessage = ({ data }) => {
        const text = typeof data === 'string' ? data : '';
        if (text.length > maxEventSize)
          return end(new BoardcastError('payload_too_large', 'the snapshot exceeded maxEventSize'));
        try {
          const frame = decodeServerFrame(text);
          if (frame.type !== 'snapshot' || !frame.id) return;
          resolve({ state: frame.data, id: frame.id });
          end();
        } catch (error) {
          end(error as BoardcastError);
        }
      };
      side.onclose = () => end(new BoardcastError('network_error', 'the side connection closed before its snapshot'));
    });

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
