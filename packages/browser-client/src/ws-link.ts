import { BoardcastError, ERROR_CODES, type ErrorCode } from '@boardcast/core';
import { encodeWsPing, type ServerEnvelope, WS_PROTOCOL } from '@boardcast/core/wire';
import type { LinkSink } from './client.js';
import type { WsOptions } from './ws-transport.js';

/**
 * What both WebSocket transports (ws-transport.ts for one stream,
 * ws-channels.ts for a channel set) do the same way: open a socket, ping it,
 * judge a refusal, read the status of a refused upgrade (or, where a browser
 * hides it, ask over plain HTTP), take the server's `error` envelopes and the
 * close ({@link watchRefusals}), and run commands
 * (an offline queue, results matched by id, a timeout each).
 */

/** How long the plain-HTTP question after an unexplained close may take before it counts as no answer. */
const PROBE_TIMEOUT_MS = 10_000;

/** Server errors that no amount of retrying fixes. */
const FINAL = ['unauthorized', 'forbidden', 'forbidden_origin', 'forbidden_host'];
/**
 * 4xx statuses that say "not now" rather than "never like this". 499 is
 * `closed` told inside the socket (ws-server shutting down: its HTTP answer
 * would be 503), which the next instance or the restarted one will not repeat.
 */
const TRANSIENT = [408, 425, 429, 499];

export const isFinal = (error: BoardcastError): boolean => FINAL.includes(error.code);

/** Why the server refused a connection: its error and the HTTP status it came with. */
export interface Refused {
  readonly error: BoardcastError;
  readonly status: number;
}

/**
 * The refusal rules (the same as SSE's): final codes stop; a refusal that
 * would come again unchanged (below 500, not 408/425/429) makes a resumed
 * connection start over without its id once, and stops the client when it is
 * the same as the previous attempt's. `judge` answers `'fresh'` (retry
 * without the resume id), `true` (stop) or `false` (retry as it was).
 */
export function refusals() {
  let last: string | undefined;
  return {
    judge({ error, status }: Refused, resumed: boolean): boolean | 'fresh' {
      const key = `${status} ${error.code}`;
      const repeats = status < 500 && !TRANSIENT.includes(status);
      const again = last === key;
      last = repeats ? key : undefined;
      if (repeats && resumed && !isFinal(error)) return 'fresh';
      return isFinal(error) || (repeats && again);
    },
    /** The stream began: a later refusal is a new one. */
    clear() {
      last = undefined;
    },
  };
}

/**
 * Browsers hide why an upgrade was refused; the `ws` package says it in the
 * error ("Unexpected server response: 400"): the refusal, when it is there.
 */
export function upgradeRefusal(event: unknown): Refused | undefined {
  const status = Number(/response: (\d{3})/.exec(String((event as { message?: unknown }).message))?.[1]);
  if (!status) return undefined;
  // As for HTTP: a bare 404 is a path nobody serves, not an unknown command.
  const code =
    status === 404
      ? 'not_found'
      : (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === status);
  return { error: new BoardcastError(code ?? 'handler_failed', `HTTP ${status}`), status };
}

/**
 * How one attempt's socket learns that the server refused it, the same for
 * both transports. It sets `onerror`, which keeps a refused upgrade's status,
 * and `onclose`, which judges the refusal when the socket never opened and
 * else fails the link with what closed it. A socket that never opened while
 * nothing said why (a browser hides a refused upgrade's status) asks the same
 * address once over plain HTTP: an HTTP answer means the server is up but the
 * upgrade did not reach it (a proxy that drops Upgrade), said as
 * `upgrade_failed` and judged as a refusal, so twice in a row stops the
 * client instead of looping; no answer fails the link as any close would.
 * `gone` says the attempt was torn down meanwhile: a late answer changes
 * nothing then. Returns what takes an `error` envelope: before the stream
 * began (or when final) the server refusing this connection (a resume id it
 * cannot use, a policy), judged like a refused upgrade; later, why the server
 * will close it.
 */
export function watchRefusals(
  ws: WebSocket,
  sink: LinkSink,
  refuse: (why: Refused) => void,
  fail: (error: BoardcastError, fatal: boolean) => void,
  gone: () => boolean,
) {
  let refused: Refused | undefined;
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
  });
  ws.onerror = (event) => {
    refused = upgradeRefusal(event) ?? refused;
  };
  ws.onclose = (event) => {
    if (!opened && refused) return refuse(refused);
    // Why it closed: the server's refusal if it said one, else the close code and reason.
    const error =
      refused?.error ??
      new BoardcastError('network_error', `connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`);
    if (opened || typeof fetch !== 'function') return fail(error, isFinal(error));
    // Never opened, and nothing said why: the plain-HTTP question above.
    // Bounded: with the watchdog off (keepAliveMs 0) an unanswered question would hold the client for ever.
    void fetch(ws.url.replace(/^ws/, 'http'), {
      cache: 'no-store',
      signal: AbortSignal.timeout?.(PROBE_TIMEOUT_MS),
    }).then(
      (res) =>
        gone() ||
        // A 5xx is the server (or a proxy before it) failing for now, a restart say: no lost upgrade.
        (res.status >= 500
          ? fail(error, false)
          : refuse({
              error: new BoardcastError(
                'upgrade_failed',
                `HTTP ${res.status} but no WebSocket: a proxy drops the upgrade (nginx: proxy_set_header Upgrade, Connection)`,
              ),
              status: 426,
            })),
      () => gone() || fail(error, false),
    );
  };
  return (json: unknown, started: boolean) => {
    const error = BoardcastError.fromJSON(json);
    const why = { error, status: error.status };
    if (!started || isFinal(error)) return refuse(why);
    refused = why;
    sink.error(error);
  };
}

/**
 * A new socket, or `undefined` after telling `drop` (on a later tick) why
 * there is none: no WebSocket class, or a URL the class refuses.
 */
export function openSocket(
  // biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
  options: WsOptions<any>,
  url: string,
  drop: (error: BoardcastError, fatal: boolean) => void,
): WebSocket | undefined {
  const Impl = (options.WebSocket ?? globalThis.WebSocket) as typeof WebSocket | undefined;
  try {
    if (!Impl) throw new TypeError('no WebSocket implementation: pass `WebSocket` from "ws" in Node 20');
    return new Impl(url, WS_PROTOCOL);
  } catch (cause) {
    const error = new BoardcastError('network_error', String((cause as Error)?.message ?? cause), { cause });
    queueMicrotask(() => drop(error, true));
    return undefined;
  }
}

/**
 * Pings only when liveness is checked (the answers are what proves the link
 * alive), and never at a period of 0 or one past 2^31-1 ms, which a timer
 * would turn into a ping storm. Returns the interval to clear.
 */
// biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
export function startPings(ws: WebSocket, options: WsOptions<any>): ReturnType<typeof setInterval> | undefined {
  // One ping at once, whatever the period: ws-server answers it on every socket it took (a
  // resumed stream with nothing missed sends nothing else), never on one it refuses, so the
  // pong is what makes a quiet accepted socket `open` (accepted()) within a round trip.
  ws.send(encodeWsPing());
  const period = options.keepAliveMs ?? 15_000;
  if ((options.missedKeepAlives ?? 2) > 0 && period > 0) {
    return setInterval(() => ws.send(encodeWsPing()), Math.min(period, 2 ** 31 - 1));
  }
  return undefined;
}

interface Pending {
  readonly id: number;
  readonly frame: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoardcastError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The server took `ws`: its first frame that is not an `error` (a refusal
 * told inside the socket is the only frame such a socket carries, and no
 * command on it would ever be read). Only then is the link open and the
 * queued commands sent: a refused socket shows no `open` and loses no
 * command. Called for every frame; acts once per socket.
 */
export function accepted(ws: WebSocket, sink: LinkSink, commands: ReturnType<typeof commandQueue>): void {
  if (commands.socket === ws) return;
  sink.open();
  commands.open(ws);
}

/**
 * Commands over a socket that comes and goes: sent at once while one is
 * open, else queued (up to `queue.limit`, default 100; `overflow` says who
 * loses); a result settles the command with its id; a socket that goes away
 * fails the commands on it (they may have run: never sent twice).
 */
// biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
export function commandQueue(options: WsOptions<any>) {
  const limit = options.queue?.limit ?? 100;
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
  return {
    /** The next frame id (commands and, on a channel socket, subscribe frames share them). */
    next: () => ++seq,
    /** The open socket, if any. */
    get socket() {
      return socket;
    },
    /** `ws` is open: send what waited. */
    open(ws: WebSocket) {
      socket = ws;
      for (const p of queue.splice(0)) send(p);
    },
    /** `ws` is gone: commands sent on it fail (they may have run). */
    lost(ws: WebSocket) {
      if (socket === ws) socket = undefined;
      for (const p of [...sent.values()]) {
        settle(
          p,
          new BoardcastError('network_error', 'connection lost before the result arrived; the command may have run'),
        );
      }
    },
    /** A `result` envelope: settles its command, if it is one of ours. */
    result(frame: Extract<ServerEnvelope, { type: 'result' }>) {
      const p = sent.get(Number(frame.id));
      if (!p) return;
      if (frame.ok) settle(p, undefined, frame.data);
      else settle(p, BoardcastError.fromJSON(frame.error));
    },
    /** Send the frame `encode(id)` makes, answered within `timeoutMs`. */
    command: (encode: (id: number) => string, timeoutMs: number) =>
      new Promise<unknown>((resolve, reject) => {
        let frame: string;
        try {
          frame = encode(++seq);
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
    /** The client is closed: every command still out rejects with `error`. */
    stop(error: BoardcastError) {
      for (const p of [...queue, ...sent.values()]) settle(p, error);
    },
  };
}
