import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BoardcastError } from '@boardcast/core';
import type { WebSocketServer } from 'ws';

/** Refusals a page must be able to tell apart from a network failure: retrying cannot fix them. */
const IN_BAND = new Set(['forbidden_origin', 'forbidden_host', 'unauthorized', 'forbidden']);
/** Policy violation (RFC 6455 §7.4.1): what core's error table gives each of the four codes. */
const POLICY_VIOLATION = 1008;

/**
 * Browsers hide why an upgrade was refused: a 403 reaches the page as close
 * code 1006, exactly like a lost network, so a client could only retry for
 * ever. For a browser (an `Origin` header) that offered our subprotocol, a
 * refusal that will never change (`IN_BAND`) is told inside the WebSocket
 * instead: the handshake completes, the socket carries one `error` envelope
 * and is closed with 1008 — the hub is never attached, nothing else is sent,
 * and a peer that does not finish the close is terminated after `graceMs`.
 * Returns false (nothing done) when the HTTP refusal should be sent instead.
 */
export function refuseInBand(
  wss: WebSocketServer,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  error: BoardcastError,
  offered: boolean,
  graceMs: number,
): boolean {
  if (!offered || !IN_BAND.has(error.code) || request.headers.origin === undefined) return false;
  if (socket.destroyed) return true;
  try {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const timer = setTimeout(() => ws.terminate(), graceMs);
      timer.unref?.();
      ws.once('close', () => clearTimeout(timer));
      ws.on('error', () => undefined);
      ws.send(`{"type":"error","error":${JSON.stringify(error.toJSON())}}`);
      ws.close(POLICY_VIOLATION, error.code);
    });
  } catch {
    socket.destroy();
  }
  return true;
}
