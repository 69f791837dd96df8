import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Authorize, ContractSpec, Hub } from '@boardcast/core';
import { serve } from './helpers.js';

/**
 * sse-server and ws-server on one real HTTP server on 127.0.0.1, mounted at
 * /api, for a hub of any contract. The principal is the `x-user` header, or
 * `?user=` (a WebSocket or a native EventSource cannot send headers);
 * anonymous without either; `nobody` is refused.
 */
export async function channelServer<C extends ContractSpec>(
  hub: Hub<C>,
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
) {
  // `nobody` is refused (401), to test a client that must stop.
  const authorize: Authorize = (request) => {
    const user = request.header('x-user') ?? request.url.searchParams.get('user') ?? true;
    return user === 'nobody' ? false : user;
  };
  const served = await serve(hub, { http: { authorize }, ws: { authorize }, extra });
  // Every TCP connection, so a test can cut them all (streams and sockets) while the server keeps listening.
  const sockets = new Set<Socket>();
  served.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    port: served.port,
    url: served.url,
    /** Cut every stream and socket at the TCP level (the clients reconnect); the server keeps listening. */
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    close: () => served.kill(),
  };
}
