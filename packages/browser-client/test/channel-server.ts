import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Authorize, ContractSpec, Hub } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';

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
  const api = boardcastHttp(hub, { base: '/api', authorize, sse: { retry: 100 } });
  const server = createServer((req, res) => {
    if (extra?.(req, res)) return;
    api.node(req, res);
  });
  const ws = createWsEndpoint(hub, { server, path: '/api/ws', authorize });
  // Every TCP connection, so a test can cut them all (streams and sockets) while the server keeps listening.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/api`,
    /** Cut every stream and socket at the TCP level (the clients reconnect); the server keeps listening. */
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      api.close();
      await ws.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
