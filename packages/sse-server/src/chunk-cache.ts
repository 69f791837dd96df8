let lastText = '';
let lastChunk: Buffer = Buffer.alloc(0);

/**
 * One HTTP/1.1 chunk (`<hex size>\r\n<UTF-8 frame>\r\n`) holding `text`,
 * cached for the last frame seen. Fan-out writes the same frame string to
 * every client in a row, so the chunk is built once per event, and each
 * client costs one reference compare and one `socket.write` of shared bytes.
 * The bytes must never be mutated: sockets may still hold them queued.
 */
export function httpChunk(text: string): Buffer {
  if (text !== lastText) {
    lastChunk = encodeChunk(text);
    lastText = text;
  }
  return lastChunk;
}

function encodeChunk(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const size = length.toString(16);
  const chunk = Buffer.allocUnsafe(size.length + length + 4);
  let offset = chunk.write(size, 0, 'latin1');
  chunk[offset++] = 0x0d;
  chunk[offset++] = 0x0a;
  offset += chunk.write(text, offset, 'utf8');
  chunk[offset++] = 0x0d;
  chunk[offset] = 0x0a;
  return chunk;
}
