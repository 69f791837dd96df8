// @boardcast/sse-server as a user wires it: a hub, `boardcastHttp(hub)` as the
// node:http handler, `hub.publish` per event. Limits raised to the bench's
// client counts; the slow-client bound is the one under test.
import { boardcastHttp } from '@boardcast/sse-server';
import { benchHub } from './contract.mjs';
import { closeServer, http, listen } from './util.mjs';

export function start({ highWaterMark, maxClients = 20_000 } = {}) {
  return serveSse(benchHub(), { highWaterMark, maxClients });
}

/** `boardcastHttp(hub)` on its own port, in the shape the orchestrator drives; shared with the Redis adapter. */
export async function serveSse(hub, { highWaterMark, maxClients = 20_000 } = {}) {
  const api = boardcastHttp(hub, {
    sse: { maxClients, ...(highWaterMark ? { highWaterMark } : {}) },
  });
  const server = http.createServer(api.node);
  const port = await listen(server);
  return {
    port,
    info: { sse: '/events', http: '/commands/ping' },
    publish(data) {
      // Rejections (queue_full, closed on a Redis bus) are also emitted as hub `error`.
      hub.publish('tick', data);
    },
    count: () => api.sse.clientCount,
    close: async () => {
      api.close();
      await hub.close();
      await closeServer(server);
    },
  };
}
