import { encodeSseFrame } from './sse-codec.js';
import { encodeWsEvent } from './ws-codec.js';

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
  #sse: string | undefined;
  #ws: string | undefined;

  constructor(id: string, event: string, data: unknown, json: string) {
    this.id = id;
    this.event = event;
    this.data = data;
    this.json = json;
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
