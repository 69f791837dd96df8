import { BoardcastError } from '@boardcast/core';
import {
  decodeServerFrame,
  encodeWsCommand,
  encodeWsSubscribe,
  encodeWsUnsubscribe,
  type ServerEnvelope,
} from '@boardcast/core/wire';
import { watchdog } from './backoff.js';
import { routeWsChannelFrame, wsOpeningFrames } from './channel-frames.js';
import type { ChannelDial, ChannelSink, ChannelTransport } from './channel-link.js';
import { endpoint } from './urls.js';
import { accepted, commandQueue, openSocket, type Refused, refusals, startPings, watchRefusals } from './ws-link.js';
import type { WsOptions } from './ws-transport.js';

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
  const maxEventSize = options.maxEventSize ?? 1 << 20;
  const commands = commandQueue(options);
  const refusal = refusals();
  // The watchdog's (backoff.ts): it may keep a period there, never in the caller's options.
  const keep = { ...options };
  /** Subscribe frames awaiting their `result`: the channels they named. */
  const subscribes = new Map<number, readonly string[]>();
  /** The attempt in progress: its sink, its socket once open, and set changes made before it opened. */
  let current: { sink: ChannelSink; late: string[]; ws?: WebSocket } | undefined;

  /** A set change now (socket open), after the opening frames (opening), or `false` (no attempt: the next one reads the set). */
  const change = (frame: string) => {
    if (current?.ws) current.ws.send(frame);
    else if (current) current.late.push(frame);
    else return false;
    return true;
  };

  // The sink of a channel connection is a ChannelSink (the session builds it); `side` is the single stream's.
  const dial = (lastEventId: string | undefined, linkSink: unknown, _side?: boolean, set?: ChannelDial) => {
    const sink = linkSink as ChannelSink;
    const ws = openSocket(options, target.href, (error, fatal) => sink.drop(error, fatal));
    if (!ws) return () => undefined;
    const attempt: { sink: ChannelSink; late: string[]; ws?: WebSocket } = { sink, late: [] };
    current = attempt;
    let interval: ReturnType<typeof setInterval> | undefined;
    let started = false;
    const dog = watchdog(keep, (ms) => fail(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)));
    const down = () => {
      clearInterval(interval);
      dog.stop();
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Kept, not nulled: the `ws` package throws on an 'error' nobody listens to.
      ws.onerror = () => undefined;
      if (current === attempt) current = undefined;
      subscribes.clear();
      commands.lost(ws);
      if (ws.readyState < 2) ws.close();
    };
    const fail = (error: BoardcastError, fatal?: boolean, fresh?: boolean) => {
      down();
      sink.drop(error, fatal, fresh);
    };
    const refuse = (why: Refused) => {
      const verdict = refusal.judge(why, !!lastEventId);
      if (verdict === 'fresh') fail(why.error, false, true);
      else fail(why.error, verdict);
    };
    // Refusals, a proxy that drops the upgrade and the close, as for the single stream; a
    // late answer after this attempt was torn down changes nothing.
    const errorFrame = watchRefusals(ws, sink, refuse, fail, () => current !== attempt);

    ws.onopen = () => {
      dog.beat();
      for (const [frame, id, channels] of wsOpeningFrames(
        lastEventId,
        set ?? { resume: [], fresh: [], since: [] },
        commands.next,
      )) {
        subscribes.set(id, channels);
        ws.send(frame);
      }
      for (const frame of attempt.late.splice(0)) ws.send(frame);
      // Later changes go straight out: the set rides on this socket, whether or not the server took it yet.
      attempt.ws = ws;
      interval = startPings(ws, options);
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
      if (frame.type !== 'error') accepted(ws, sink, commands);
      if (routeWsChannelFrame(sink, frame)) {
        started = true;
        refusal.clear();
        return;
      }
      if (frame.type === 'status') return sink.server(frame.data);
      if (frame.type === 'result') {
        const id = Number(frame.id);
        const named = subscribes.get(id);
        if (!named) return commands.result(frame);
        subscribes.delete(id);
        started = true;
        const added = frame.ok ? (frame.data as { added?: unknown } | null)?.added : undefined;
        return sink.started(Array.isArray(added) ? added.filter((c) => typeof c === 'string') : []);
      }
      if (frame.type === 'error') return errorFrame(frame.error, started);
    };
    return down;
  };

  return {
    name: 'ws',
    dial,
    command: (name, input, timeoutMs, channel) =>
      commands.command((id) => encodeWsCommand(id, name, input, channel), timeoutMs),
    subscribe(requests, directory) {
      const id = commands.next();
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
    unsubscribe: (channels) => change(encodeWsUnsubscribe(commands.next(), channels)),
    stop: commands.stop,
  };
}
