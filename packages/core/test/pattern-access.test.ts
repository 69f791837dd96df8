import { describe, expect, it } from 'vitest';
import { type AccessPolicy, accessTable, createHub, DIRECTORY } from '../src/index.js';
import { frameSink, laterAnswers, tickContract } from './fixtures.js';

// Issue 22: a named pattern's "every matching channel, including ones that
// appear later, passes the access check". A channel a pattern matches is
// admitted on the viewer's policy when the pattern is added (channels that
// exist) and again each time a matching channel appears; one the policy
// refuses is skipped silently (no snapshot, no event, no forbidden frame:
// its very existence does not leak), one it allows starts with its snapshot.

const contract = tickContract;

function client() {
  const { frames, sink } = frameSink();
  /** Every frame that names `channel` (or carries it in its payload). */
  const about = (channel: string) => frames.filter((f) => f.channel === channel || JSON.stringify(f).includes(channel));
  /**
   * What a mirror of `channel` folds to: its one snapshot, then its events
   * (the snapshot may come before or after the event that made the channel
   * appear, depending on when the policy answered; either way each event is
   * counted once). Undefined when no snapshot came; throws on a second one or
   * an event before the snapshot.
   */
  const folded = (channel: string): number | undefined => {
    let ticks: number | undefined;
    for (const f of frames.filter((f) => f.channel === channel)) {
      if (f.type === 'snapshot') {
        if (ticks !== undefined) throw new Error(`second snapshot of ${channel}`);
        ticks = (f.data as { ticks: number }).ticks;
      } else if (f.type === 'event') {
        if (ticks === undefined) throw new Error(`event of ${channel} before its snapshot`);
        ticks += f.data as number;
      } else throw new Error(`unexpected ${f.type} frame for ${channel}`);
    }
    return ticks;
  };
  return { sink, frames, about, folded };
}

/** Let a policy that answers later (a promise) answer everything, and the hub write what follows. */
const { later, settle } = laterAnswers();

/** bob may see board-1 and board-3 (and board-5 until the policy changes), never board-2 or board-4. */
function policies(): [string, () => { access: AccessPolicy; revoke5: () => void }][] {
  return [
    [
      'accessTable',
      () => {
        const access = accessTable({ bob: { see: ['board-1', 'board-3', 'board-5'] } });
        return { access, revoke5: () => access.set('bob', { see: ['board-1', 'board-3'] }) };
      },
    ],
    [
      'an asynchronous policy function',
      () => {
        const seen = new Set(['board-1', 'board-3', 'board-5']);
        const access: AccessPolicy = {
          canSee: (principal, channel) => later(principal === 'bob' && seen.has(channel)),
        };
        return { access, revoke5: () => seen.delete('board-5') };
      },
    ],
  ];
}

describe('a pattern subscription and the access policy', () => {
  for (const [name, make] of policies()) {
    it(`${name}: channels refused now or appearing later are never delivered; allowed ones are`, async () => {
      const { access } = make();
      const hub = createHub(contract, { state: { ticks: 0 }, access });
      // Exist before the subscription: one allowed, one refused.
      await hub.channel('board-1').publish('tick', 1);
      await hub.channel('board-2').publish('tick', 20);
      const bob = client();
      const conn = hub.connect({ channels: ['board-*'], principal: 'bob' }, bob.sink);
      await settle();
      expect([...conn.channels].sort()).toEqual(['board-*', 'board-1']);

      // Appear later: one refused (board-2's sibling board-4), one allowed (board-3).
      await hub.channel('board-4').publish('tick', 40);
      await hub.channel('board-3').publish('tick', 3);
      await settle();
      await hub.channel('board-4').publish('tick', 41);
      await hub.channel('board-3').publish('tick', 4);
      await hub.channel('board-2').publish('tick', 21);
      await hub.channel('board-1').publish('tick', 2);
      await settle();

      // The allowed channels: a snapshot, then exactly their events after it (each once).
      expect(bob.folded('board-1')).toBe(1 + 2);
      expect(bob.folded('board-3')).toBe(3 + 4);
      // The refused ones: nothing at all, not even a forbidden frame naming them.
      expect(bob.about('board-2')).toEqual([]);
      expect(bob.about('board-4')).toEqual([]);
      expect([...conn.channels].sort()).toEqual(['board-*', 'board-1', 'board-3']);
      // Nor are they counted as bob's subscribers.
      expect(hub.channel('board-2').metrics.subscribers).toBe(0);
      expect(hub.channel('board-4').metrics.subscribers).toBe(0);
      expect(hub.channel('board-3').metrics.subscribers).toBe(1);
    });

    it(`${name}: a channel the policy refuses from a rights change on is not added by the pattern when it appears`, async () => {
      const { access, revoke5 } = make();
      const hub = createHub(contract, { state: { ticks: 0 }, access });
      const bob = client();
      const conn = hub.connect({ channels: ['board-*', DIRECTORY], principal: 'bob' }, bob.sink);
      await settle();
      revoke5();
      await hub.invalidateAccess('bob');
      await hub.channel('board-5').publish('tick', 5);
      await hub.channel('board-3').publish('tick', 3);
      await settle();
      expect(bob.about('board-5')).toEqual([]);
      expect(bob.folded('board-3')).toBe(3);
      expect([...conn.channels].sort()).toEqual(['board-*', 'board-3', DIRECTORY]);
    });
  }

  it('two viewers with one pattern: each gets exactly the appearing channels its own policy allows', async () => {
    const access = accessTable({ bob: { see: ['board-1'] }, alice: { see: ['board-*'] } });
    const hub = createHub(contract, { state: { ticks: 0 }, access });
    const bob = client();
    const alice = client();
    hub.connect({ channels: ['board-*'], principal: 'bob' }, bob.sink);
    hub.connect({ channels: ['board-*'], principal: 'alice' }, alice.sink);
    await hub.channel('board-2').publish('tick', 2);
    await hub.channel('board-1').publish('tick', 1);
    await hub.channel('board-2').publish('tick', 3);
    await settle();
    expect(bob.about('board-2')).toEqual([]);
    expect(bob.folded('board-1')).toBe(1);
    expect(alice.folded('board-2')).toBe(2 + 3);
    expect(alice.folded('board-1')).toBe(1);
  });
});
