import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { hasOpenssl } from '../../../test-support/tls.js';
import { h2Post, h2StatusFor, h2Suite, openH2Stream, slowStreamIsCutAlone } from './h2-client.js';
import { waitFor } from './helpers.js';

/**
 * sse-server's Fetch handler (`api.fetch`) on a Fetch-based server that
 * speaks HTTP/2: `@hono/node-server`'s `serve()` with node:http2's
 * `createSecureServer` (what the README's HTTP/2 section shows). Each
 * `Response` is its own h2 stream: many share one TLS session, and the
 * Fetch adapter's byte-counted queue bounds each stream alone.
 */
const setup = h2Suite(async (ca, api) => {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: (request, env) =>
          api.fetch(request, {
            remoteAddress: (env as { incoming: { socket: { remoteAddress?: string } } }).incoming.socket.remoteAddress,
          }),
        createServer: createSecureServer,
        serverOptions: { key: ca.key, cert: ca.cert },
        port: 0,
        hostname: '127.0.0.1',
      },
      () => resolve(s),
    );
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

describe.skipIf(!hasOpenssl())('HTTP/2 through the Fetch handler (@hono/node-server on node:http2)', () => {
  it('serves many event streams and a command over one h2 session', async () => {
    const { origin, session, api, hub } = await setup();
    const readers = Array.from({ length: 8 }, () => openH2Stream(session, '/api/events'));
    await waitFor(() => readers.every((r) => r.messages.some((m) => m.event === 'snapshot')), 'every snapshot');
    expect(readers.every((r) => r.status === 200)).toBe(true);
    expect(api?.sse.clients().map((c) => c.adapter)).toEqual(Array(8).fill('fetch'));
    expect(api?.sse.clients()[0]?.remoteAddress).toBe('127.0.0.1');
    // Same-host check: the Request's URL is built from :authority.
    expect(await h2Post(session, '/api/commands/led', '{"state":"on"}', { origin })).toEqual({
      status: 200,
      body: '{"on":true}',
    });
    await waitFor(() => readers.every((r) => r.messages.some((m) => m.event === 'led')), 'led on every stream');
    // One TLS session carried all of it.
    expect(session?.destroyed).toBe(false);
    readers[0]?.stream.close();
    await waitFor(() => api?.sse.clientCount === 7, 'one stream closed alone');
    expect(readers.slice(1).every((r) => !r.ended)).toBe(true);
    hub.publish('time', 'after');
    await waitFor(() => readers.slice(1).every((r) => r.messages.some((m) => m.event === 'time')), 'later events');
  });

  it('refuses a foreign :authority with forbidden_host', async () => {
    const { origin, session } = await setup();
    const authority = `rebind.example:${new URL(origin).port}`;
    expect(await h2StatusFor(session, '/api/events', authority)).toBe(403);
  });

  it('bounds buffered bytes per h2 stream: a stream that stops reading is cut alone, the others keep flowing', async () => {
    const { session, api, hub } = await setup({ sse: { highWaterMark: 64 * 1024, slowClient: 'disconnect' } }, 10);
    // Two blobs a step: the Fetch adapter counts a burst in one turn too (unlike node's
    // res.write), so a step stays under highWaterMark and the reading stream keeps up.
    await slowStreamIsCutAlone(session, hub, api, 2);
  });
});
