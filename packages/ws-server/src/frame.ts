import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * A complete unmasked text frame (FIN + opcode 1) holding `text`, built once
 * per publish. Server frames are never masked (RFC 6455 §5.1), so the same
 * bytes are valid on every connection and can be written as they are —
 * no per-socket UTF-8 encoding, length scan or header allocation.
 */
export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/**
 * The connection's network socket, when frames may be written to it
 * directly. That is safe only while `ws`'s own Sender never queues
 * (no permessage-deflate on this connection): then Sender writes are
 * synchronous too, and control frames, results and events keep their order.
 * `_socket` is `ws`'s long-standing internal field (untyped); if it is ever
 * missing we fall back to `send()`.
 */
export function rawSocketOf(socket: WebSocket): Duplex | undefined {
  if (socket.extensions !== '') return undefined;
  const raw = (socket as unknown as { _socket?: unknown })._socket;
  if (raw && typeof (raw as Duplex).write === 'function') return raw as Duplex;
  return undefined;
}

/** Close reasons are limited to 123 bytes of UTF-8; `ws` throws on longer ones. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let cut = text.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}...`;
}
