/**
 * A second server instance in its own process, for the cross-process test.
 * Bundled from sources by the test (esbuild), run with `fork`, driven over
 * the IPC channel: it serves SSE + WS + HTTP commands for its hub on a
 * RedisBus and owns the board named in BOARD.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import { RedisBus } from '../../src/index.js';
import { contract, initialState } from '../fixtures.js';

type Message = { type: 'publish'; value: number } | { type: 'close' };

async function main() {
  const board = process.env.BOARD ?? 'child-board';
  const bus = new RedisBus({ redis: process.env.REDIS_URL, name: 'test' });
  const hub = createHub(contract, { state: initialState, bus });
  const router = bus.routeCommands(hub, { owns: (_command, input) => (input as { board: string }).board === board });
  router.handle('led', ({ board: b, state }) => ({ board: b, on: state === 'on', by: `pid ${process.pid}` }));
  const api = boardcastHttp(hub);
  const server = createServer(api.node);
  createWsEndpoint(hub, { server });
  await Promise.all([bus.ready, hub.ready, router.ready]);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  process.on('message', async (message: Message) => {
    if (message.type === 'publish') {
      const id = await hub.publish('tick', message.value);
      process.send?.({ type: 'published', id });
    } else if (message.type === 'close') {
      server.closeAllConnections();
      server.close();
      await hub.close();
      process.disconnect?.();
    }
  });
  process.send?.({ type: 'ready', port, pid: process.pid });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
