// One instance of a multi-instance deployment: a hub on `RedisBus` (every
// instance with the same `name` shares one Redis stream) behind
// `boardcastHttp(hub)`, as the bus-redis README wires it. Only the instance
// the orchestrator asks to publish calls `hub.publish`; the others deliver
// what they read from the stream.
import { RedisBus } from '@boardcast/bus-redis';
import { serveSse } from './boardcast-sse.mjs';
import { benchHub } from './contract.mjs';

export async function start({ redis, name, maxClients = 20_000 } = {}) {
  if (!redis || !name) throw new Error('boardcast-sse-redis needs { redis, name }');
  const bus = new RedisBus({ redis, name });
  bus.on('error', (error, where) => console.error(`[bus-redis] ${where}:`, error));
  bus.on('gap', (afterId) =>
    console.error(`[bus-redis] gap after ${afterId}: events lost before this instance read them`),
  );
  const hub = benchHub(bus);
  await hub.ready;
  await bus.ready;
  return serveSse(hub, { maxClients });
}
