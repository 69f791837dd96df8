// @boardcast/sse-server with channels, as a fleet wires it: one hub,
// `boardcastHttp(hub)`, every client opening `GET /events?channels=c<k>`,
// and `hub.channel('c<k>').publish('tick', data)` per event.
import { boardcastHttp } from '@boardcast/sse-server';
import { channelsHub } from './contract.mjs';
import { closeServer, http, listen } from './util.mjs';

export async function start({ channels, maxClients = 20_000 } = {}) {
  if (!channels) throw new Error('boardcast-sse-channels needs { channels }');
  const { hub, handles } = channelsHub(channels);
  const api = boardcastHttp(hub, { sse: { maxClients } });
  const server = http.createServer(api.node);
  const port = await listen(server);
  return {
    port,
    info: { sse: '/events?channels=c{c}' },
    publishTo(k, data) {
      // Rejections are also emitted as hub `error` (logged above).
      void handles[k].publish('tick', data);
    },
    count: () => api.sse.clientCount,
    close: async () => {
      api.close();
      await hub.close();
      await closeServer(server);
    },
  };
}
