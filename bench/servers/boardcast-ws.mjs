// @boardcast/ws-server as a user wires it: a hub, `createWsEndpoint(hub, {server})`,
// `hub.publish` per event. Limits raised to the bench's client counts.
import { createWsEndpoint } from '@boardcast/ws-server';
import { benchHub } from './contract.mjs';
import { closeServer, http, listen } from './util.mjs';

export async function start({ highWaterMark, maxClients = 20_000 } = {}) {
  const hub = benchHub();
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const endpoint = createWsEndpoint(hub, {
    server,
    path: '/ws',
    maxClients,
    allowedOrigins: '*',
    ...(highWaterMark ? { highWaterMark } : {}),
  });
  const port = await listen(server);
  return {
    port,
    info: { ws: '/ws', protocol: 'boardcast.v1' },
    publish(data) {
      hub.publish('tick', data);
    },
    count: () => endpoint.clientCount,
    close: async () => {
      await endpoint.close();
      await hub.close();
      await closeServer(server);
    },
  };
}
