import { describe, expect, it, onTestFinished } from 'vitest';
import { channelFleet } from '../../../test-support/channel-fleet.js';
import * as scenario from '../../../test-support/pattern-access.js';
import { boardcastHttp } from '../src/index.js';
import { listen, openStream, type StreamReader } from './helpers.js';

// Issue 22 over a real SSE stream: test-support/pattern-access.ts tells the
// scenario (bob holds `board-*` and may see board-1 and board-3 only).

/**
 * The scenario's fleet behind boardcastHttp on a real server; `open` reads a
 * stream at `path` as `user` (the `x-user` header, a test stand-in for a
 * session). Streams, endpoint, hub and server are closed when the test ends.
 */
async function serve() {
  const access = scenario.patternAccess();
  const { hub } = channelFleet({ access });
  const api = boardcastHttp(hub, { base: '/api', authorize: (request) => request.header('x-user') ?? false });
  const server = await listen(api.node);
  const streams: StreamReader[] = [];
  onTestFinished(async () => {
    for (const stream of streams) stream.close();
    await api.close();
    await hub.close();
    await server.close();
  });
  const open = async (path: string, user: string, init: RequestInit = {}) => {
    const headers = { 'x-user': user, ...(init.headers as Record<string, string>) };
    const stream = await openStream(`${server.url}${path}`, headers, init);
    streams.push(stream);
    return stream;
  };
  return { hub, access, open };
}

/** An SSE message names its event (`snapshot`, `tick`, …); its data carries `channel` and `state` or `data`. */
const view: scenario.ConnectionView<StreamReader> = {
  messages: (stream) =>
    stream.messages.map((m) => {
      const d = JSON.parse(m.data) as { channel?: string; data?: unknown; state?: unknown };
      const type = m.event === 'tick' ? 'event' : m.event;
      return { channel: d.channel, type, data: m.event === 'snapshot' ? d.state : d.data };
    }),
  raw: (stream) => stream.messages.map((m) => m.data),
};

describe('SSE: a pattern subscription and the access policy', () => {
  for (const how of ['in the query', 'in the request body']) {
    it(`${how}: a channel bob may not see is never written, now or when it appears; one he may see is`, async () => {
      const { hub, open } = await serve();
      await scenario.publishExisting(hub);
      const bob =
        how === 'in the query'
          ? await open('/api/events?channels=board-*', 'bob')
          : await open('/api/events', 'bob', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ channels: ['board-*'] }),
            });
      expect(bob.response.status).toBe(200);
      const alice = await open('/api/events?channels=board-*', 'alice');
      await scenario.expectPatternAccess(hub, view, bob, alice);
    });
  }

  it('a channel refused after a rights change is not added when it appears, and its events never arrive', async () => {
    const { hub, access, open } = await serve();
    await scenario.expectRightsChangeKeepsOut(hub, access, view, () => open('/api/events?channels=board-*', 'bob'));
  });
});
