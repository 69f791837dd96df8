/**
 * The frames of a connection that names channels (SSE and WS), beside the
 * single-stream frames of 0.1 that a connection naming none still gets
 * byte for byte. Every frame says which channel it belongs to, so a client
 * never has to work out where a frame goes (Mercure's complaint).
 *
 * SSE                                                   WS (JSON text frame)
 * id: <id>  event: <name>                               {"type":"event","channel":c,"event":n,"id":i,"data":d}
 *   data: {"channel":c,"data":d}
 * id: <pos> event: snapshot                             {"type":"snapshot","id":pos,"channel":c,"data":state}
 *   data: {"channel":c,"state":state}
 * event: reset  data: {"channel":c,"reason":r}           {"type":"reset","channel":c,"reason":r}
 * event: forbidden data: {"channel":c,"error":{…}}       {"type":"forbidden","channel":c,"error":{code,message}}
 *
 * An event replayed to catch a channel up to the connection's position
 * (a channel added with `since` older than what the connection already
 * has) carries no id: the client's position (Last-Event-ID) never moves
 * backwards, and holding an id keeps meaning "every event of every channel
 * in the set up to it".
 */

import type { EncodedEvent } from './encoded-event.js';
import type { BoardcastError } from './errors.js';
import { encodeSseFrame } from './sse-codec.js';

function q(value: unknown): string {
  return JSON.stringify(value);
}

/** Anything a transport can write: it writes `sse` on an SSE stream and `ws` on a WebSocket. */
export interface WireFrame {
  /** The id a client resumes from after this frame (`''`: the frame moves no position). */
  readonly id: string;
  readonly sse: string;
  readonly ws: string;
}

/** The channel-mode form of an event, built once per event and shared by every subscriber. */
export class ChannelEventFrame implements WireFrame {
  readonly #event: EncodedEvent;
  readonly #withId: boolean;
  #sse: string | undefined;
  #ws: string | undefined;

  constructor(event: EncodedEvent, withId: boolean) {
    this.#event = event;
    this.#withId = withId;
  }

  get id(): string {
    return this.#withId ? this.#event.id : '';
  }

  /** The event this frame carries. */
  get event(): EncodedEvent {
    return this.#event;
  }

  get sse(): string {
    const e = this.#event;
    this.#sse ??= encodeSseFrame({
      id: this.#withId ? e.id : undefined,
      event: e.event,
      data: `{"channel":${q(e.channel)},"data":${e.json}}`,
    });
    return this.#sse;
  }

  get ws(): string {
    const e = this.#event;
    const id = this.#withId ? `,"id":${q(e.id)}` : '';
    this.#ws ??= `{"type":"event","channel":${q(e.channel)},"event":${q(e.event)}${id},"data":${e.json}}`;
    return this.#ws;
  }
}

/**
 * A channel's state as a snapshot body, encoded once per state; each
 * connection writes it with its own position (`at(id)`), which is only a
 * string concatenation.
 */
export class ChannelSnapshotBody {
  readonly channel: string;
  readonly state: unknown;
  readonly json: string;
  #sse: string | undefined;
  #ws: string | undefined;

  constructor(channel: string, state: unknown, json: string) {
    this.channel = channel;
    this.state = state;
    this.json = json;
  }

  /** `event: snapshot` + `data:` lines, without the `id:` line. */
  get sseBody(): string {
    this.#sse ??= encodeSseFrame({ event: 'snapshot', data: `{"channel":${q(this.channel)},"state":${this.json}}` });
    return this.#sse;
  }

  /** The WS envelope after its `"id"` member. */
  get wsTail(): string {
    this.#ws ??= `"channel":${q(this.channel)},"data":${this.json}}`;
    return this.#ws;
  }

  /** The snapshot frame at position `id` (`''`: none yet, the frame carries no id). */
  at(id: string): WireFrame {
    return new PositionedSnapshot(this, id);
  }
}

class PositionedSnapshot implements WireFrame {
  readonly id: string;
  readonly #body: ChannelSnapshotBody;

  constructor(body: ChannelSnapshotBody, id: string) {
    this.#body = body;
    this.id = id;
  }

  get sse(): string {
    return this.id === '' ? this.#body.sseBody : `id: ${this.id}\n${this.#body.sseBody}`;
  }

  get ws(): string {
    return `{"type":"snapshot","id":${this.id === '' ? 'null' : q(this.id)},${this.#body.wsTail}`;
  }
}

/** A frame that moves no position (reset, forbidden), written as given. */
class ControlFrame implements WireFrame {
  readonly id = '';
  readonly sse: string;
  readonly ws: string;

  constructor(sse: string, ws: string) {
    this.sse = sse;
    this.ws = ws;
  }
}

/** `reset` for one channel: what follows is that channel's fresh snapshot (`reason`: `history`, `removed`). */
export function channelResetFrame(channel: string, reason: string): WireFrame {
  const data = `{"channel":${q(channel)},"reason":${q(reason)}}`;
  return new ControlFrame(
    encodeSseFrame({ event: 'reset', data }),
    `{"type":"reset","channel":${q(channel)},"reason":${q(reason)}}`,
  );
}

/**
 * `forbidden` for one channel: the viewer may not see it (at subscribe
 * time, or no longer after the access policy changed). The client drops
 * the channel from its set and its mirror and does not ask again.
 */
export function channelForbiddenFrame(channel: string, error: BoardcastError): WireFrame {
  const body = q(error.toJSON());
  return new ControlFrame(
    encodeSseFrame({ event: 'forbidden', data: `{"channel":${q(channel)},"error":${body}}` }),
    `{"type":"forbidden","channel":${q(channel)},"error":${body}}`,
  );
}
