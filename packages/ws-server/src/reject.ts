import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BoardcastError } from '@boardcast/core';

/**
 * Refuse an upgrade with a plain HTTP response and a JSON error body, before
 * any WebSocket exists. Browsers hide the body from scripts, but curl, `ws`
 * clients (`unexpected-response`) and proxies' logs show it.
 */
export function rejectUpgrade(socket: Duplex, status: number, error: BoardcastError): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(error.toBody());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}
