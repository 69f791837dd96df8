import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js';
import { createSseEndpoint, type DisconnectReason, type SseEndpoint, type SseEndpointOptions } from '../src/index.js';
import { listen, makeHub, openStream, type StreamReader, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let proxy: TcpProxy | undefined;
let sse: SseEndpoint | undefined;
let hub: ReturnType<typeof makeHub>;
const readers: StreamReader[] = [];

afterEach(async () => {
  await endAll(...readers.splice(0), proxy, sse, hub, server);
  proxy = undefined;
  server = undefined;
});

async function setup(options: SseEndpointOptions) {
  hub = makeHub(10);
  const endpoint = createSseEndpoint(hub, options);
  sse = endpoint;
  server = await listen((req, res) => endpoint.node(req, res));
  proxy = await startTcpProxy(Number(new URL(server.url).port));
  const reasons = new Map<string, DisconnectReason>();
  endpoint.on('disconnect', (client, reason) => reasons.set(client.id, reason));
  return { endpoint, reasons };
}

describe('the server notices a silent peer', () => {
  for (const slowClient of ['reset', 'disconnect'] as const) {
    it(`drops a stream behind a link that went silent (no FIN, no RST) once its data stops moving (slowClient: ${slowClient})`, async () => {
      const { endpoint, reasons } = await setup({ keepAliveMs: 200, highWaterMark: 256 * 1024, slowClient });
      const silent = await openStream(`http://127.0.0.1:${proxy?.port}/`);
      const healthy = await openStream(`${server?.url}/`);
      readers.push(silent, healthy);
      await waitFor(() => silent.messages.length === 1 && healthy.messages.length === 1, 'snapshots');
      const [silentInfo, healthyInfo] = endpoint.clients();
      proxy?.stall();

      // Keep publishing as an app would; the silent peer's backlog piles up in the kernels, then here.
      const blob = 'b'.repeat(32 * 1024);
      let published = 0;
      while (!reasons.has(silentInfo?.id ?? '') && published < 2000) {
        await hub.publish('blob', blob);
        published++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // `disconnect` policy drops it as slow when it passes the mark; `reset` keeps it waiting for a
      // drain that never comes, and the keep-alive check ends it.
      expect(reasons.get(silentInfo?.id ?? '')).toBe(slowClient === 'reset' ? 'timeout' : 'slow');
      expect(endpoint.clientCount).toBe(1);
      expect(reasons.has(healthyInfo?.id ?? '')).toBe(false);
      await waitFor(() => healthy.messages.length === published + 1, 'the healthy client got everything');
    }, 60_000);
  }

  it('keeps a slow reader that makes progress, and keeps a quiet healthy stream', async () => {
    const { endpoint, reasons } = await setup({
      keepAliveMs: 100,
      highWaterMark: 8 * 1024 * 1024,
      slowClient: 'reset',
    });
    const reader = await openStream(`http://127.0.0.1:${proxy?.port}/`);
    readers.push(reader);
    await waitFor(() => reader.messages.length === 1, 'snapshot');
    // Several keep-alive periods with nothing to send: a quiet stream is not a dead one.
    await waitFor(() => reader.keepalives.length >= 6, 'five keep-alive periods');
    expect(reasons.size).toBe(0);
    // A reader whose link stalls for less than two periods at a time, with a backlog, stays.
    const blob = 'c'.repeat(64 * 1024);
    for (let round = 0; round < 5; round++) {
      proxy?.stall();
      for (let i = 0; i < 20; i++) await hub.publish('blob', blob);
      await new Promise((resolve) => setTimeout(resolve, 50));
      proxy?.resume();
      await waitFor(() => reader.messages.length === 1 + (round + 1) * 20, `round ${round} delivered`);
    }
    expect(reasons.size).toBe(0);
    expect(endpoint.clientCount).toBe(1);
  }, 60_000);
});
