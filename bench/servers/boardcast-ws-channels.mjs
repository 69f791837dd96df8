// @boardcast/ws-server with channels: one hub, `createWsEndpoint(hub, {server})`,
// every client upgrading on `/ws?channels=c<k>`, and
// `hub.channel('c<k>').publish('tick', data)` per event.
import { createWsEndpoint } from '@boardcast/ws-server';
import { channelsHub } from './contract.mjs';
import { closeServer, http, listen } from './util.mjs';

export async function start({ channels, maxClients = 20_000 } = {}) {
  if (!channels) throw new Error('boardcast-ws-channels needs { channels }');
  const { hub, handles } = channelsHub(channels);
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const endpoint = createWsEndpoint(hub, { server, path: '/ws', maxClients, allowedOrigins: '*' });
  const port = await listen(server);
  return {
    port,
    info: { ws: '/ws?channels=c{c}', protocol: 'boardcast.v1' },
    publishTo(k, data) {
      void handles[k].publish('tick', data);
    },
    count: () => endpoint.clientCount,
    close: async () => {
      await endpoint.close();
      await hub.close();
      await closeServer(server);
    },
  };
}
