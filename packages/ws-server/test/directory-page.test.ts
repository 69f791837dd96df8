import { createServer } from 'node:http';
import { DIRECTORY } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { channelFleet } from '../../../test-support/channel-fleet.js';
import { createWsEndpoint } from '../src/index.js';
import { closeAll, listen, refusal, TestClient } from './helpers.js';

afterEach(closeAll);

describe('a directory page over WS follows the rules of the HTTP query', () => {
  it('refuses offset -1 and empty filters in a subscribe (an error result) and on the upgrade (400); the socket stays usable', async () => {
    const { hub } = channelFleet();
    await hub.channel('board-1').describe({ kind: 'esp32', status: 'online' });
    const server = createServer((_req, res) => res.end('page'));
    const endpoint = createWsEndpoint(hub, { server, authorize: () => 'alice' });
    const port = await listen(server);
    try {
      const url = (query: string) => `ws://127.0.0.1:${port}/ws?${query}`;
      const viewer = await TestClient.open(url('channels='));
      const pages = [{ offset: -1 }, { kind: '' }, { status: '' }, { limit: 1.5 }];
      for (const [i, directory] of pages.entries()) {
        viewer.send({ type: 'subscribe', id: i, channels: [DIRECTORY], directory });
        expect((await viewer.result(i)).error.code, JSON.stringify(directory)).toBe('invalid_payload');
      }
      // Refused pages added nothing; a good one still works on the same socket.
      viewer.send({ type: 'subscribe', id: 'ok', channels: [DIRECTORY], directory: { status: 'online' } });
      expect((await viewer.result('ok')).data).toEqual({ added: [DIRECTORY], refused: [] });
      const snapshot = await viewer.next((f) => f.type === 'snapshot' && f.channel === DIRECTORY);
      expect(snapshot.data).toMatchObject({ entries: [{ id: 'board-1', status: 'online' }], total: 1 });

      for (const query of ['offset=-1', 'kind=', 'status=']) {
        const { status, body } = await refusal(url(`channels=~directory&${query}`));
        expect([status, body.error.code], query).toEqual([400, 'invalid_payload']);
      }
    } finally {
      await endpoint.close();
      await hub.close();
    }
  });
});
