import { BoardcastError, type ClientContract, type ContractSpec } from '@boardcast/core';
import { decodeServerFrame, encodeWsCommand, type ServerEnvelope } from '@boardcast/core/wire';
import { type KeepAliveOptions, watchdog } from './backoff.js';
import type { ClientOptions, LinkSink, Transport } from './client.js';
import { createSkipper } from './resync.js';
import type { ShareOptions } from './share.js';
import { endpoint, withQuery } from './urls.js';
import { accepted, commandQueue, openSocket, type Refused, refusals, startPings, watchRefusals } from './ws-link.js';

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

/** The head of an event envelope: event name (JSON), id (JSON). */
const SKIPPABLE = /^\{"type":"event","event":("(?:[^"\\]|\\.)*"),"id":("(?:[^"\\]|\\.)*")/;

/**
 * WebSocket for the single stream: `<url>/ws?events=…&lastEventId=…`, the
 * snapshot and events as envelopes, commands on the same socket (queued
 * while it is down). Its pieces: {@link wsTransport}'s `dial` (one socket:
 * open, frames, refusal, close), the side socket that mends the state after
 * an oversized event, and ws-link.ts (what the channel transport shares).
 */
export function wsTransport<C extends ContractSpec>(
  url: string,
  contract: C | ClientContract<C>,
  options: WsOptions<C>,
): Transport {
  const target = endpoint(url, '/ws', options.wsUrl);
  target.protocol = target.protocol.replace(/^http/, 'ws');
  const maxEventSize = options.maxEventSize ?? 1 << 20;
  const commands = commandQueue(options);
  const refusal = refusals();
  // The watchdog's (backoff.ts): it may keep a period there, never in the caller's options.
  const keep = { ...options };

  const dial = (lastEventId: string | undefined, sink: LinkSink) => {
    const ws = openSocket(
      options,
      withQuery(target, { events: options.events?.join(','), lastEventId }),
      (error, fatal) => sink.drop(error, fatal),
    );
    if (!ws) return () => undefined;
    let interval: ReturnType<typeof setInterval> | undefined;
    // A fresh connection still waiting for its snapshot.
    let fresh = !lastEventId;
    // Nothing of the stream (snapshot, event, reset) has arrived yet.
    let started = false;
    // Torn down: a late answer (watchRefusals' plain-HTTP question) changes nothing.
    let gone = false;
    // Started at dial time: an upgrade that never gets an answer through a silent link is bounded too.
    const dog = watchdog(keep, (ms) => fail(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)));

    // Idempotent teardown: commands already on the wire cannot be known to
    // have run or not, so they fail rather than being sent twice.
    const down = () => {
      gone = true;
      clearInterval(interval);
      dog.stop();
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Kept, not nulled: the `ws` package throws on an 'error' nobody listens to.
      ws.onerror = () => undefined;
      commands.lost(ws);
      if (ws.readyState < 2) ws.close();
    };
    const fail = (error: BoardcastError, fatal?: boolean, skip?: string) => {
      down();
      if (skip) sink.reset(skip);
      // A state still being mended (resync.ts) cannot be resumed: the next connection starts fresh.
      sink.drop(error, fatal, skipper.stop() || !!skip);
    };
    // Events over maxEventSize are skipped alone; it sees what this socket delivers.
    const skipper = createSkipper(contract.reducers, sideSnapshot, sink, (error) => fail(error));
    const refuse = (why: Refused) => {
      const verdict = refusal.judge(why, !!lastEventId);
      if (verdict === 'fresh') fail(why.error, false, 'resume_refused');
      else fail(why.error, verdict);
    };
    // The server's refusals (an upgrade's HTTP status, an `error` envelope before the stream began, a
    // proxy that drops the upgrade) and the close.
    const errorFrame = watchRefusals(ws, sink, refuse, fail, () => gone);
    /** Something of the stream arrived: it began, and a later refusal is a new one. */
    const begin = () => {
      started = true;
      refusal.clear();
    };

    ws.onopen = () => {
      dog.beat();
      interval = startPings(ws, options);
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
      // Open once the server took the socket (watchRefusals: a refusal told inside it comes first).
      if (frame.type !== 'error') accepted(ws, sink, commands);
      switch (frame.type) {
        case 'snapshot':
          fresh = false;
          begin();
          skipper.stop();
          return sink.snapshot(frame.data, frame.id);
        case 'event':
          // Only a channel connection (ws-channels.ts) gets id-less catch-up events.
          if (frame.id === null) return sink.error(new BoardcastError('invalid_payload', 'event without id'));
          begin();
          sink.event(frame.event, frame.data, frame.id);
          return skipper.event(frame.id, frame.event, frame.data);
        case 'reset':
          started = true;
          return sink.reset(frame.reason);
        case 'status':
          return sink.server(frame.data);
        case 'result':
          return commands.result(frame);
        case 'error':
          return errorFrame(frame.error, started);
      }
    };
    return down;
  };

  /**
   * A second socket read up to its first snapshot, then closed: what mends
   * the state after a skipped event (resync.ts). It carries no commands.
   */
  const sideSnapshot = () =>
    new Promise<{ state: unknown; id: string }>((resolve, reject) => {
      const side = openSocket(options, withQuery(target, { events: options.events?.join(',') }), reject);
      if (!side) return;
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
    command: (name, input, timeoutMs) => commands.command((id) => encodeWsCommand(id, name, input), timeoutMs),
    stop: commands.stop,
  };
}
