import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hasOpenssl } from '../../../test-support/tls.js';
import { h2Post, h2StatusFor, h2Suite, openH2Stream, slowStreamIsCutAlone } from './h2-client.js';
import { waitFor } from './helpers.js';

/**
 * sse-server on node:http2's compatibility API (`createSecureServer(handler)`):
 * the same `api.node` handler, many streams on one TLS connection.
 */
const setup = h2Suite(async (ca, api) => {
  // No cast: `node` takes node:http2's compatibility request and response (NodeRequest, NodeResponse).
  const server = createSecureServer({ key: ca.key, cert: ca.cert }, (req, res) => api.node(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

describe.skipIf(!hasOpenssl())('HTTP/2 (node:http2 secure server)', () => {
  it('streams snapshot and events and runs commands over one session; Host comes from :authority', async () => {
    const { origin, session, api } = await setup();
    const a = openH2Stream(session, '/api/events');
    const b = openH2Stream(session, '/api/events');
    await waitFor(() => a.messages.length >= 2 && b.messages.length >= 2, 'both snapshots');
    expect(a.status).toBe(200);
    expect(a.messages.map((m) => m.event)).toEqual(['keepalive', 'snapshot']);
    // Browsers send Origin on a POST; same-host must match the :authority.
    const result = await h2Post(session, '/api/commands/led', '{"state":"on"}', { origin });
    expect(result).toEqual({ status: 200, body: '{"on":true}' });
    await waitFor(() => b.messages.some((m) => m.event === 'led'), 'led event on the second stream');
    expect(api?.sse.clientCount).toBe(2);
    a.stream.close();
    await waitFor(() => api?.sse.clientCount === 1, 'one stream closed alone');
    expect(b.ended).toBe(false);
  });

  it('refuses a foreign :authority with forbidden_host, as over HTTP/1.1', async () => {
    const { origin, session } = await setup();
    const reader = openH2Stream(session, '/api/events');
    await waitFor(() => reader.status !== 0, 'an answer');
    expect(reader.status).toBe(200);
    const port = new URL(origin).port;
    expect(await h2StatusFor(session, '/api/events', `rebind.example:${port}`)).toBe(403);
  });

  it('bounds buffered bytes per h2 stream: a stream that stops reading is cut alone, the others on the session keep flowing', async () => {
    const { session, api, hub } = await setup({ sse: { highWaterMark: 64 * 1024, slowClient: 'disconnect' } }, 10);
    await slowStreamIsCutAlone(session, hub, api, 8);
  });

  it('reset mode: the slow h2 stream gets reset + snapshot once it reads again', async () => {
    const { session, api, hub } = await setup({ sse: { highWaterMark: 64 * 1024 } }, 10);
    const slow = openH2Stream(session, '/api/events');
    await waitFor(() => slow.messages.length >= 2, 'snapshot');
    slow.stream.pause();
    const blob = 'y'.repeat(16 * 1024);
    await waitFor(
      () => {
        for (let i = 0; i < 8; i++) hub.publish('blob', blob);
        return (api?.sse.clients()[0]?.resets ?? 0) > 0 || (api?.sse.clients()[0]?.bufferedBytes ?? 0) > 64 * 1024;
      },
      'the stream falls behind',
      20_000,
    );
    slow.stream.resume();
    const index = (event: string, from = 0) => slow.messages.findIndex((m, i) => i >= from && m.event === event);
    await waitFor(
      () => index('reset') >= 0 && index('snapshot', index('reset')) >= 0,
      'reset, then a fresh snapshot',
      20_000,
    );
    expect(JSON.parse(slow.messages[index('reset')]?.data ?? '{}')).toEqual({ reason: 'slow' });
    expect(api?.sse.clients()[0]?.resets).toBe(1);
  });
});
