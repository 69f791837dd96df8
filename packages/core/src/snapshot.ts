import { encodeSseSnapshot } from './sse-codec.js';
import { encodeWsSnapshot } from './ws-codec.js';

/**
 * The state a new client receives first, with the id of the newest event it
 * reflects. Cached by the hub until the state or the head changes, so many
 * clients connecting at once share one serialization.
 */
export class EncodedSnapshot {
  readonly state: unknown;
  readonly json: string;
  readonly headId: string | undefined;
  #sse: string | undefined;
  #ws: string | undefined;

  constructor(state: unknown, json: string, headId: string | undefined) {
    this.state = state;
    this.json = json;
    this.headId = headId;
  }

  get sse(): string {
    this.#sse ??= encodeSseSnapshot(this.json, this.headId);
    return this.#sse;
  }

  get ws(): string {
    this.#ws ??= encodeWsSnapshot(this.json, this.headId);
    return this.#ws;
  }
}
