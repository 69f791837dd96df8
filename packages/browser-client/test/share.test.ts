import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { LinkSink } from '../src/client.js';
import { shareTransport } from '../src/share.js';
import { cleanups, contract, runCleanups, until } from './helpers.js';
import { fakeTransport } from './share-fakes.js';

/** share.ts in Node below a stand-in transport (test/share-fakes.ts): the test plays the server. */

/** What a client (its session) sees through the shared transport. */
function recorder() {
  const seen: string[] = [];
  const sink: LinkSink = {
    open: () => seen.push('open'),
    snapshot: (state, id) => seen.push(`snapshot ${JSON.stringify(state)} ${id}`),
    event: (name, data, id) => seen.push(`event ${name} ${JSON.stringify(data)} ${id}`),
    reset: (reason) => seen.push(`reset ${reason}`),
    server: (status) => seen.push(`server ${status.bus}`),
    retry: () => undefined,
    error: (error) => seen.push(`error ${error.code}`),
    drop: (error) => seen.push(`drop ${error.code}`),
  };
  return { seen, sink };
}

afterEach(runCleanups);

/** A tab: its client dials through share.ts over its own stand-in transport; stopped after the test. */
function tab(identity: string) {
  const fake = fakeTransport();
  const shared = shareTransport(fake.transport, contract, identity, { share: true });
  cleanups.push(() => shared.stop(new BoardcastError('closed', 'done')));
  const client = recorder();
  shared.dial(undefined, client.sink);
  return { ...fake, shared, client };
}

const seenIt = (seen: string[], line: string) => () => seen.includes(line);

describe('tab sharing over BroadcastChannel (share.ts)', () => {
  it('a tab that joins late gets the state, the events after it, and the server status, from the leader', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    const server = await a.opened(1, 'the leader dials the server');
    server.server({ bus: 'degraded' });
    server.snapshot({ led: { on: false }, tick: 0, pins: {} }, 'e-0');
    server.event('tick', 1, 'e-1');

    const b = tab(identity);
    await until(seenIt(b.client.seen, 'open'), 10_000, 'the follower open');
    server.event('tick', 2, 'e-2');
    await until(seenIt(b.client.seen, 'event tick 2 e-2'), 10_000, 'the follower caught up');
    // The follower never dialled the server itself; it starts from the leader's folded state and status.
    expect(b.dials).toHaveLength(0);
    expect(b.client.seen).toEqual([
      'server degraded',
      'snapshot {"led":{"on":false},"tick":1,"pins":{}} e-1',
      'open',
      'event tick 2 e-2',
    ]);
    expect(a.client.seen).toEqual([
      'open',
      'server degraded',
      'snapshot {"led":{"on":false},"tick":0,"pins":{}} e-0',
      'event tick 1 e-1',
      'event tick 2 e-2',
    ]);
  });

  it('when the leader stops, the successor it named dials at once, resuming from its own last id', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    const first = await a.opened(1, 'the leader dials the server');
    first.snapshot({ led: { on: false }, tick: 0, pins: {} }, 'e-0');

    const b = tab(identity);
    await until(seenIt(b.client.seen, 'open'), 10_000, 'the follower open');
    first.event('tick', 1, 'e-1');
    await until(seenIt(b.client.seen, 'event tick 1 e-1'), 10_000, 'the follower has e-1');
    // Let a heartbeat name B the successor, then stop A (its page closes).
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.shared.stop(new BoardcastError('closed', 'page closed'));
    expect(a.dials[0]?.aborted).toBe(true);
    const second = await b.opened(1, 'the successor dials');
    expect(b.dials[0]?.lastEventId).toBe('e-1');
    second.event('tick', 2, 'e-2');
    await until(seenIt(b.client.seen, 'event tick 2 e-2'), 10_000, 'events from the new connection');
    expect(b.client.seen.filter((s) => s.startsWith('event'))).toEqual(['event tick 1 e-1', 'event tick 2 e-2']);
  });
});
