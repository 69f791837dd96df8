import { BoardcastError, ERROR_CODES, type ErrorCode } from '@boardcast/core';
import {
  decodeServerFrame,
  encodeWsCommand,
  encodeWsPing,
  encodeWsSubscribe,
  encodeWsUnsubscribe,
  type ServerEnvelope,
  WS_PROTOCOL,
} from '@boardcast/core/wire';
import { watchdog } from './backoff.js';
import { routeWsChannelFrame, wsOpeningFrames } from './channel-frames.js';
import type { ChannelDial, ChannelSink, ChannelTransport } from './channel-link.js';
import { endpoint } from './urls.js';
import type { WsOptions } from './ws-transport.js';

interface Pending {
  readonly id: number;
  readonly frame: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoardcastError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Server errors that no amount of retrying fixes. */
const FINAL = ['unauthorized', 'forbidden', 'forbidden_origin', 'forbidden_host'];

/**
 * WebSocket for a connection that names channels. It opens `<url>/ws?channels=`
 * (an empty set) and gives the connection its set with `subscribe` frames:
 * resumed channels as `{channel, since: <the connection's id>}`, fresh ones by
 * id, so the set never travels in the URL (Node refuses headers past 16 KB)
 * and one code path opens, resumes and grows the set. Later changes are
 * `subscribe`/`unsubscribe` frames on the same socket; a change made while
 * the socket is still opening is sent right after the opening frames.
 * Commands carry `channel`. Liveness, the offline command queue and the
 * refusal rules are those of the single-stream WS transport.
 */
// biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
export function wsChannelTransport(url: string, options: WsOptions<any>): ChannelTransport {
  const target = endpoint(url, '/ws', options.wsUrl);
  target.protocol = target.protocol.replace(/^http/, 'ws');
  target.searchParams.set('channels', '');
  if (options.events?.length) target.searchParams.set('events', options.events.join(','));
  const limit = options.queue?.limit ?? 100;
  const maxEventSize = options.maxEventSize ?? 1 << 20;
  const queue: Pending[] = [];
  const sent = new Map<number, Pending>();
  /** Subscribe frames awaiting their `result`: the channels they named. */
  const subscribes = new Map<number, readonly string[]>();
  let socket: WebSocket | undefined;
  /** The attempt in progress: its sink, and set changes made before it opened. */
  let current: { sink: ChannelSink; late: string[] } | undefined;
  let seq = 0;
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
  /** A set change now (socket open), after the opening frames (opening), or `false` (no attempt: the next one reads the set). */
  const change = (frame: string) => {
    if (socket) socket.send(frame);
    else if (current) current.late.push(frame);
    else return false;
    return true;
  };

  // The sink of a channel connection is a ChannelSink (the session builds it); `side` is the single stream's.
  const dial = (lastEventId: string | undefined, linkSink: unknown, _side?: boolean, set?: ChannelDial) => {
    const sink = linkSink as ChannelSink;
    const Impl = (options.WebSocket ?? globalThis.WebSocket) as typeof WebSocket | undefined;
    let ws: WebSocket;
    try {
      if (!Impl) throw new TypeError('no WebSocket implementation: pass `WebSocket` from "ws" in Node 20');
      ws = new Impl(target.href, WS_PROTOCOL);
    } catch (cause) {
      const error = new BoardcastError('network_error', String((cause as Error)?.message ?? cause), { cause });
      queueMicrotask(() => sink.drop(error, true));
      return () => undefined;
    }
    const attempt = { sink, late: [] as string[] };
    current = attempt;
    let interval: ReturnType<typeof setInterval> | undefined;
    let refused: { error: BoardcastError; status: number } | undefined;
    let started = false;
    const dog = watchdog(options, (ms) =>
      fail(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)),
    );
    const down = () => {
      clearInterval(interval);
      dog.stop();
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Kept, not nulled: the `ws` package throws on an 'error' nobody listens to.
      ws.onerror = () => undefined;
      if (socket === ws) socket = undefined;
      if (current === attempt) current = undefined;
      subscribes.clear();
      for (const p of [...sent.values()]) {
        settle(
          p,
          new BoardcastError('network_error', 'connection lost before the result arrived; the command may have run'),
        );
      }
      if (ws.readyState < 2) ws.close();
    };
    const fail = (error: BoardcastError, fatal?: boolean, fresh?: boolean) => {
      down();
      sink.drop(error, fatal, fresh);
    };
    const refuse = ({ error, status }: { error: BoardcastError; status: number }) => {
      const key = `${status} ${error.code}`;
      const repeats = status < 500 && status !== 408 && status !== 429;
      const again = refusal === key;
      refusal = repeats ? key : undefined;
      if (repeats && lastEventId && !FINAL.includes(error.code)) return fail(error, false, true);
      fail(error, FINAL.includes(error.code) || (repeats && again));
    };

    ws.onopen = () => {
      dog.beat();
      socket = ws;
      sink.open();
      for (const [frame, id, channels] of wsOpeningFrames(
        lastEventId,
        set ?? { resume: [], fresh: [], since: [] },
        () => ++seq,
      )) {
        subscribes.set(id, channels);
        ws.send(frame);
      }
      for (const frame of attempt.late.splice(0)) ws.send(frame);
      for (const p of queue.splice(0)) send(p);
      const period = options.keepAliveMs ?? 15_000;
      if ((options.missedKeepAlives ?? 2) > 0 && period > 0) {
        interval = setInterval(() => ws.send(encodeWsPing()), Math.min(period, 2 ** 31 - 1));
      }
    };
    ws.onmessage = (message) => {
      dog.beat();
      const text = typeof message.data === 'string' ? message.data : '';
      if (text.length > maxEventSize && !text.startsWith('{"type":"result"')) {
        // Which channel it was is not known: every channel starts over fresh.
        return fail(
          new BoardcastError('payload_too_large', `a frame exceeded maxEventSize (${maxEventSize})`),
          false,
          true,
        );
      }
      let frame: ServerEnvelope;
      try {
        frame = decodeServerFrame(text);
      } catch (error) {
        return sink.error(error as BoardcastError);
      }
      if (routeWsChannelFrame(sink, frame)) {
        started = true;
        refusal = undefined;
        return;
      }
      if (frame.type === 'status') return sink.server(frame.data);
      if (frame.type === 'result') {
        const id = Number(frame.id);
        const named = subscribes.get(id);
        if (named) {
          subscribes.delete(id);
          started = true;
          const added = frame.ok ? (frame.data as { added?: unknown } | null)?.added : undefined;
          return sink.started(Array.isArray(added) ? added.filter((c) => typeof c === 'string') : []);
        }
        const p = sent.get(id);
        if (!p) return;
        return frame.ok ? settle(p, undefined, frame.data) : settle(p, BoardcastError.fromJSON(frame.error));
      }
      if (frame.type === 'error') {
        const error = BoardcastError.fromJSON(frame.error);
        if (!started || FINAL.includes(error.code)) return refuse({ error, status: error.status });
        refused = { error, status: error.status };
        return sink.error(error);
      }
    };
    ws.onerror = (event) => {
      const status = Number(/response: (\d{3})/.exec(String((event as { message?: unknown }).message))?.[1]);
      if (status) {
        const code =
          status === 404
            ? 'not_found'
            : (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === status);
        refused = { error: new BoardcastError(code ?? 'handler_failed', `HTTP ${status}`), status };
      }
    };
    ws.onclose = (event) => {
      if (refused && !socket) return refuse(refused);
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

  return {
    name: 'ws',
    dial,
    command: (name, input, timeoutMs, channel) =>
      new Promise((resolve, reject) => {
        let frame: string;
        try {
          frame = encodeWsCommand(++seq, name, input, channel);
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
    subscribe(requests, directory) {
      const id = ++seq;
      const ok = change(
        encodeWsSubscribe(
          id,
          requests.map((r) => (typeof r === 'string' ? { channel: r } : r)),
          directory,
        ),
      );
      if (ok)
        subscribes.set(
          id,
          requests.map((r) => (typeof r === 'string' ? r : r.channel)),
        );
      return ok;
    },
    unsubscribe: (channels) => change(encodeWsUnsubscribe(++seq, channels)),
    stop(error) {
      for (const p of [...queue, ...sent.values()]) settle(p, error);
    },
  };
}
