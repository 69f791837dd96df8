import { afterEach, describe, expect, it } from 'vitest';
import * as scenario from '../../../test-support/pattern-access.js';
import { closeAll, fleetSetup, TestClient } from './helpers.js';

// Issue 22 over a real socket: test-support/pattern-access.ts tells the
// scenario (bob holds `board-*` and may see board-1 and board-3 only).

afterEach(closeAll);

/** The shared fleet behind a WS endpoint, with the scenario's access table (the one to change). */
async function fleet() {
  const access = scenario.patternAccess();
  return { ...(await fleetSetup({ access })), access };
}

/** A WS frame is already `{type, channel, data}`; raw, every text the socket received. */
const view: scenario.ConnectionView<TestClient> = {
  messages: (client) => client.frames.map((f) => ({ channel: f.channel, type: f.type, data: f.data })),
  raw: (client) => client.raw,
};

describe('WebSocket: a pattern subscription and the access policy', () => {
  for (const how of ['in the upgrade URL', 'by a subscribe message']) {
    it(`${how}: a channel bob may not see is never written, now or when it appears; one he may see is`, async () => {
      const env = await fleet();
      const { hub } = env;
      await scenario.publishExisting(hub);
      let bob: TestClient;
      if (how === 'in the upgrade URL') {
        bob = await TestClient.open(env.url('user=bob&channels=board-*'));
      } else {
        bob = await TestClient.open(env.url('user=bob&channels='));
        bob.send({ type: 'subscribe', id: 'p', channels: ['board-*'] });
        const result = await bob.result('p');
        // The pattern is admitted; board-2 is skipped silently, not reported refused.
        expect(result).toMatchObject({ ok: true, data: { added: ['board-1', 'board-*'], refused: [] } });
      }
      const alice = await TestClient.open(env.url('user=alice&channels=board-*'));
      await scenario.expectPatternAccess(hub, view, bob, alice);
      await env.close();
    });
  }

  it('a channel refused after a rights change is not added when it appears, and its events never arrive', async () => {
    const env = await fleet();
    await scenario.expectRightsChangeKeepsOut(env.hub, env.access, view, () =>
      TestClient.open(env.url('user=bob&channels=board-*')),
    );
    await env.close();
  });
});
