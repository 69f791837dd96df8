import { DEFAULT_CHANNEL } from './channel.js';
import { ChannelEventFrame, ChannelSnapshotBody, type WireFrame } from './channel-codec.js';
import { encodeSseFrame, encodeSseSnapshot, encodeSseStatus } from './sse-codec.js';
import type { ServerStatus } from './status.js';
import { encodeWsEvent, encodeWsSnapshot, encodeWsStatus } from './ws-codec.js';

/**
 * One published event with its wire forms. The JSON of the payload is made
 * once per publish; the SSE and WS frames are built on first use and then
 * shared by every client and by history replay, so per-client work is only
 * the write.
 */
export class EncodedEvent {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
  readonly json: string;
  /** The channel the event belongs to ({@link DEFAULT_CHANNEL} for a program that names none). */
  readonly channel: string;
  #sse: string | undefined;
  #ws: string | undefined;
  #tagged: WireFrame | undefined;
  #catchUp: WireFrame | undefined;

  constructor(id: string, event: string, data: unknown, json: string, channel: string = DEFAULT_CHANNEL) {
    this.id = id;
    this.event = event;
    this.data = data;
    this.json = json;
    this.channel = channel;
  }

  /** The frame a connection that names channels receives (see `channel-codec.ts`), shared by all of them. */
  get tagged(): WireFrame {
    this.#tagged ??= this.createTagged(true);
    return this.#tagged;
  }

  /** {@link tagged} without the id: the event replayed to catch a channel up to a connection's position. */
  get catchUp(): WireFrame {
    this.#catchUp ??= this.createTagged(false);
    return this.#catchUp;
  }

  protected createTagged(withId: boolean): WireFrame {
    return new ChannelEventFrame(this, withId);
  }

  /** `id:`/`event:`/`data:` block for SSE. */
  get sse(): string {
    this.#sse ??= encodeSseFrame({ id: this.id, event: this.event, data: this.json });
    return this.#sse;
  }

  /** `{"type":"event",…}` text frame for WebSocket. */
  get ws(): string {
    this.#ws ??= encodeWsEvent(this.id, this.event, this.json);
    return this.#ws;
  }
}

/**
 * Name of the event `Hub.setState` publishes. `~` is outside the names a
 * contract may use, so it never collides with an application event.
 */
export const STATE_EVENT = '~state';

/**
 * What clients receive for a `setState` event: a `snapshot` frame carrying
 * the whole state after it, with its id. Every transport already writes
 * `sse`/`ws` of what it is given, and every client already replaces its
 * state on a snapshot and resumes from its id, so no wire format changes.
 */
export class StateChange extends EncodedEvent {
  /** The whole state after this event, as JSON. */
  readonly stateJson: string;
  #frameSse: string | undefined;
  #frameWs: string | undefined;

  constructor(id: string, data: unknown, json: string, stateJson: string, channel: string = DEFAULT_CHANNEL) {
    super(id, STATE_EVENT, data, json, channel);
    this.stateJson = stateJson;
  }

  protected override createTagged(withId: boolean): WireFrame {
    return new ChannelSnapshotBody(this.channel, undefined, this.stateJson).at(withId ? this.id : '');
  }

  override get sse(): string {
    this.#frameSse ??= encodeSseSnapshot(this.stateJson, this.id);
    return this.#frameSse;
  }

  override get ws(): string {
    this.#frameWs ??= encodeWsSnapshot(this.stateJson, this.id);
    return this.#frameWs;
  }
}

/** The `event` of a {@link StatusFrame}; like `~state`, outside the names a contract may use. */
export const STATUS_EVENT = '~status';

/**
 * The server status frame (`event: ~status` on SSE, `{"type":"status"}` on
 * WS) handed to transports like an event, so every transport forwards it
 * without knowing it: they write `sse`/`ws` of whatever they are given. It
 * has no id (`''`), is never in history and never moves a client's resume id.
 */
export class StatusFrame extends EncodedEvent {
  declare readonly data: ServerStatus;
  #frameSse: string | undefined;
  #frameWs: string | undefined;

  constructor(status: ServerStatus) {
    super('', STATUS_EVENT, status, JSON.stringify({ bus: status.bus }));
  }

  /** The status is the server's, not a channel's: every connection gets the same frame. */
  protected override createTagged(): WireFrame {
    return this;
  }

  override get sse(): string {
    this.#frameSse ??= encodeSseStatus(this.json);
    return this.#frameSse;
  }

  override get ws(): string {
    this.#frameWs ??= encodeWsStatus(this.json);
    return this.#frameWs;
  }
}
