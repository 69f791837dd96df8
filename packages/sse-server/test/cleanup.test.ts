import { getEventListeners } from 'node:events';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createSseEndpoint } from '../src/index.js';
import { listen, makeHub, type TestServer } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;
let sse: ReturnType<typeof createSseEndpoint>;

afterEach(async () => {
  sse?.close();
  await hub?.close();
  await server?.close();
  server = undefined;
});

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const CYCLES = 10_000;
const PARALLEL = 25;

describe('clean-up', () => {
  it(`leaves no listeners, timers or heap growth after ${CYCLES} connect/disconnect cycles over real sockets`, async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub, { keepAliveMs: 1000 });
    server = await listen(sse.node);
    const port = Number(new URL(server.url).port);
    const request = 'GET /?events=time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    let disconnects = 0;
    sse.on('disconnect', () => disconnects++);

    // Connect, wait for the snapshot, hang up.
    const cycle = () =>
      new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(request));
        let seen = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          seen += chunk;
          if (seen.includes('event: snapshot')) socket.destroy();
        });
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
    const run = async (count: number) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          await cycle();
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
    };
    const settled = async (expected: number) => {
      const deadline = Date.now() + 15_000;
      while (disconnects < expected || sse.clientCount > 0) {
        if (Date.now() > deadline) throw new Error(`only ${disconnects}/${expected} disconnects`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    // Warm up (JIT, pools), then measure.
    await run(1000);
    await settled(1000);
    const listeners = {
      hub: hub.listenerCount(),
      sse: sse.listenerCount(),
      server: server.server.listenerCount('request'),
    };
    const before = heapAfterGc();

    await run(CYCLES);
    await settled(1000 + CYCLES);
    const after = heapAfterGc();

    expect(sse.clientCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
    expect({
      hub: hub.listenerCount(),
      sse: sse.listenerCount(),
      server: server.server.listenerCount('request'),
    }).toEqual(listeners);
    // A leaked client (response, socket, sink closure) costs kilobytes; 10k of them would be tens of MB.
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);

  it(`leaves nothing behind after ${CYCLES} Fetch-handler streams are opened and cancelled`, async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub, { keepAliveMs: 1000 });
    const cycle = async () => {
      const response = await sse.fetch(new Request('http://localhost/events'));
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      if (first.done) throw new Error('stream ended before the first frame');
      await reader.cancel();
    };
    for (let i = 0; i < 1000; i++) await cycle();
    const listeners = { hub: hub.listenerCount(), sse: sse.listenerCount() };
    const before = heapAfterGc();
    for (let i = 0; i < CYCLES; i++) await cycle();
    const after = heapAfterGc();
    expect(sse.clientCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
    expect({ hub: hub.listenerCount(), sse: sse.listenerCount() }).toEqual(listeners);
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);

  // Heap is not measured here: Node 20's own `new Request(url, { signal })`
  // retains ~2 KB per request whatever the handler does (see nodejs/undici#5822).
  it('removes its abort listener when a Fetch request is aborted', async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub, { keepAliveMs: 1000 });
    for (let i = 0; i < 500; i++) {
      const controller = new AbortController();
      const request = new Request('http://localhost/events', { signal: controller.signal });
      const response = await sse.fetch(request);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      expect(getEventListeners(request.signal, 'abort')).toHaveLength(1);
      controller.abort();
      expect(getEventListeners(request.signal, 'abort')).toHaveLength(0);
      expect(sse.clientCount).toBe(0);
    }
    expect(hub.subscriberCount).toBe(0);
  });
});
