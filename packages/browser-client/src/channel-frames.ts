import { BoardcastError } from '@boardcast/core';
import { encodeWsSubscribe, MAX_CHANNELS_PER_FRAME, type ServerEnvelope } from '@boardcast/core/wire';
import type { ChannelDial, ChannelSink } from './channel-link.js';

/**
 * The channel side of both transports, kept out of them so a page that
 * names no channels does not carry it: the SSE request for a set, the SSE
 * and WS channel frames, the WS `subscribe` frames that open a set.
 */

/** Longest GET URL the client builds; a larger set travels in a POST body (Node refuses headers past 16 KB). */
export const MAX_URL_LENGTH = 2000;

/** An SSE stream request for a channel set: a GET URL, or a POST with a JSON body. */
export interface ChannelStreamRequest {
  readonly url: string;
  /** Present: POST this body (fetch mode only). */
  readonly body?: string | undefined;
}

/**
 * `GET <events>?channels=a,b&fresh=c&lastEventId=L` (the last only for a
 * native EventSource, which cannot set the header), or, when some channel
 * resumes from its own id, a directory page is asked for, or the URL would
 * be long, `POST <events>` with `{"channels":[…],"lastEventId"?,"directory"?}`.
 * The body names fresh channels as plain ids with no `lastEventId`, and
 * every resumed one as `{channel, since: L}`, so it means the same whatever
 * the server does with a `lastEventId`.
 */
export function channelStreamRequest(
  stream: URL,
  events: string | undefined,
  lastEventId: string | undefined,
  dial: ChannelDial,
  inQuery: boolean,
): ChannelStreamRequest {
  const url = new URL(stream);
  if (events) url.searchParams.set('events', events);
  const ids = [...dial.resume, ...dial.fresh];
  if (dial.since.length === 0 && dial.directory === undefined) {
    const get = new URL(url);
    get.searchParams.set('channels', ids.join(','));
    if (lastEventId && dial.fresh.length > 0) get.searchParams.set('fresh', dial.fresh.join(','));
    if (lastEventId && inQuery) get.searchParams.set('lastEventId', lastEventId);
    if (get.href.length <= MAX_URL_LENGTH) return { url: get.href };
  }
  const resumeAll = !lastEventId || dial.fresh.length === 0;
  const channels = [
    ...(resumeAll ? dial.resume : dial.resume.map((channel) => ({ channel, since: lastEventId }))),
    ...dial.fresh,
    ...dial.since,
  ];
  const body: Record<string, unknown> = { channels };
  if (resumeAll && lastEventId) body.lastEventId = lastEventId;
  if (dial.directory !== undefined) body.directory = dial.directory;
  return { url: url.href, body: JSON.stringify(body) };
}

/** Whether a channel stream request needs fetch (a POST body). */
export const needsFetch = (request: ChannelStreamRequest): boolean => request.body !== undefined;

const field = (value: unknown, name: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;

/**
 * Route one SSE block of a channel stream (`snapshot`, `reset`,
 * `forbidden`, or an event: `{"channel","data"}`). `id` is the block's own
 * `id:` field: an event without one is a catch-up replay.
 */
export function routeSseChannelFrame(sink: ChannelSink, type: string, value: unknown, id: string | undefined): void {
  const channel = field(value, 'channel');
  if (typeof channel !== 'string') {
    sink.error(new BoardcastError('invalid_payload', `"${type}" frame names no channel`));
    return;
  }
  if (type === 'snapshot') sink.channelSnapshot(channel, field(value, 'state'), id || null);
  else if (type === 'reset') sink.channelReset(channel, String(field(value, 'reason') ?? 'history'));
  else if (type === 'forbidden') sink.forbidden(channel, BoardcastError.fromJSON(field(value, 'error')));
  else sink.channelEvent(channel, type, field(value, 'data'), id || null);
}

/** Route a decoded WS frame of a channel connection; `false` when it is not a channel frame. */
export function routeWsChannelFrame(sink: ChannelSink, frame: ServerEnvelope): boolean {
  if (frame.type === 'forbidden') sink.forbidden(frame.channel, BoardcastError.fromJSON(frame.error));
  else if (frame.type === 'snapshot' && frame.channel !== undefined)
    sink.channelSnapshot(frame.channel, frame.data, frame.id);
  else if (frame.type === 'event' && frame.channel !== undefined)
    sink.channelEvent(frame.channel, frame.event, frame.data, frame.id);
  else if (frame.type === 'reset' && frame.channel !== undefined) sink.channelReset(frame.channel, frame.reason);
  else return false;
  return true;
}

/**
 * The `subscribe` frames that give a new WS connection its set (opened with
 * `?channels=`, empty): resumed channels as `{channel, since: L}`, fresh ones
 * as ids, `since` ones as asked; at most MAX_CHANNELS_PER_FRAME per frame.
 * Returns `[frame id, channels named]` pairs.
 */
export function wsOpeningFrames(
  lastEventId: string | undefined,
  dial: ChannelDial,
  nextId: () => number,
): [string, number, readonly string[]][] {
  const requests = [
    ...dial.resume.map((channel) => (lastEventId ? { channel, since: lastEventId } : { channel })),
    ...dial.fresh.map((channel) => ({ channel })),
    ...dial.since,
  ];
  const frames: [string, number, readonly string[]][] = [];
  for (let i = 0; i < requests.length; i += MAX_CHANNELS_PER_FRAME) {
    const chunk = requests.slice(i, i + MAX_CHANNELS_PER_FRAME);
    const id = nextId();
    frames.push([encodeWsSubscribe(id, chunk, i === 0 ? dial.directory : undefined), id, chunk.map((r) => r.channel)]);
  }
  return frames;
}
