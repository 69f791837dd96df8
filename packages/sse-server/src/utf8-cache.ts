const encoder = new TextEncoder();
let lastText = '';
let lastBytes = new Uint8Array(0);

/**
 * UTF-8 bytes of a frame, cached for the last frame seen. Fan-out writes the
 * same frame string to every client in a row, so this encodes once per
 * event, not once per client; the per-client cost is one reference compare.
 * The bytes are shared and must never be mutated by a consumer (response
 * body readers only copy them to the socket).
 */
export function utf8Bytes(text: string): Uint8Array {
  if (text !== lastText) {
    lastBytes = encoder.encode(text);
    lastText = text;
  }
  return lastBytes;
}
