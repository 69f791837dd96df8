import { afterEach, describe, expect, it } from 'vitest';
import { channelFleet, type FleetHub } from '../../../test-support/channel-fleet.js';
import * as scenario from '../../../test-support/pattern-access.js';
import { type BoardcastHttp, boardcastHttp } from '../src/index.js';
import { listen, openStream, type TestServer } from './helpers.js';

// Issue 22 over a real SSE stream: test-support/pattern-access.ts tells the
// scenario (bob holds `board-*` and may see board-1 and board-3 only).

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: FleetHub | undefined;
const streams: { close(): void }[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await api?.close();
  await hub?.close();
  await server?.close();
  server = api = hub = undefined;
});

async function serve() {
  const access = scenario.patternAccess();
  hub = channelFleet({ access }).hub;
  // The user is the `x-user` header (a test stand-in for a session).
  api = boardcastHttp(hub, { base: '/api', authorize: (request) => request.header('x-user') ?? false });
  server = await listen(api.node);
  return { hub, access, url: server.url };
}

async function open(url: string, user: string, init: RequestInit = {}) {
  const stream = await openStream(url, { 'x-user': user, ...(init.headers as Record<string, string>) }, init);
  streams.push(stream);
  return stream;
}

type Stream = Awaited<ReturnType<typeof open>>;

/** An SSE message names its event (`snapshot`, `tick`, …); its data carries `channel` and `state` or `data`. */
const view: scenario.ConnectionView<Stream> = {
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
      const { hub, url } = await serve();
      await scenario.publishExisting(hub);
      const bob =
        how === 'in the query'
          ? await open(`${url}/api/events?channels=board-*`, 'bob')
          : await open(`${url}/api/events`, 'bob', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ channels: ['board-*'] }),
            });
      expect(bob.response.status).toBe(200);
      const alice = await open(`${url}/api/events?channels=board-*`, 'alice');
      await scenario.expectPatternAccess(hub, view, bob, alice);
    });
  }

  it('a channel refused after a rights change is not added when it appears, and its events never arrive', async () => {
    const { hub, access, url } = await serve();
    await scenario.expectRightsChangeKeepsOut(hub, access, view, () =>
      open(`${url}/api/events?channels=board-*`, 'bob'),
    );
  });
});
