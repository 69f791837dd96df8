import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type BoardcastError, ERROR_CODES } from '@boardcast/core';
import type { WebSocketServer } from 'ws';

/**
 * Refusals a page must be able to tell apart from a network failure. Four
 * that retrying cannot fix, closed with 1008 (policy violation, RFC 6455
 * §7.4.1), and a full server (`too_many_clients`, the `maxClients` or
 * `maxClientsPerAddress` bound), closed with 1013 (try again later): told by
 * a lost connection, a browser client would ask over plain HTTP, get an
 * answer and take the full server for a proxy that drops upgrades
 * (`upgrade_failed`), stopping instead of waiting for a place. The close
 * codes are core's error table's.
 */
const IN_BAND = new Set(['forbidden_origin', 'forbidden_host', 'unauthorized', 'forbidden', 'too_many_clients']);

/**
 * Browsers hide why an upgrade was refused: a 403 or 503 reaches the page as
 * close code 1006, exactly like a lost network, so a client could only guess.
 * For a browser (an `Origin` header) that offered our subprotocol, a refusal
 * in `IN_BAND` is told inside the WebSocket instead: the handshake completes,
 * the socket carries one `error` envelope and is closed with the error's
 * close code — the hub is never attached, nothing else is sent, and a peer
 * that does not finish the close is terminated after `graceMs`. `done` runs
 * once when that socket is gone (the caller bounds how many live at once).
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
  done: () => void = () => undefined,
): boolean {
  if (!offered || !IN_BAND.has(error.code) || request.headers.origin === undefined) return false;
  if (socket.destroyed) {
    done();
    return true;
  }
  try {
    // The refusal is over when its TCP socket is: after the WebSocket close,
    // a termination after graceMs, or a handshake ws answered with 400 itself.
    socket.once('close', done);
    wss.handleUpgrade(request, socket, head, (ws) => {
      const timer = setTimeout(() => ws.terminate(), graceMs);
      timer.unref?.();
      ws.once('close', () => clearTimeout(timer));
      ws.on('error', () => undefined);
      ws.send(`{"type":"error","error":${JSON.stringify(error.toJSON())}}`);
      ws.close(ERROR_CODES[error.code].close, error.code);
    });
  } catch {
    socket.destroy();
  }
  return true;
}
