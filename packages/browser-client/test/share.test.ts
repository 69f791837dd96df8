import { afterEach, describe, expect, it } from 'vitest';
import type { LinkSink, Transport } from '../src/client.js';
import { shareTransport } from '../src/share.js';
import { contract } from './helpers.js';

/**
 * share.ts in Node, whose BroadcastChannel delivers between the instances of
 * one process as a browser does between tabs. The transport below it is a
 * stand-in at the lowest boundary: `dial` hands out the sink so the test
 * plays the server (the real transports are covered in tabs.browser.test.ts).
 */
interface Dialed {
  readonly lastEventId: string | undefined;
  readonly sink: LinkSink;
  aborted: boolean;
}

function fakeTransport() {
  const dials: Dialed[] = [];
  const transport: Transport = {
    name: 'sse',
    dial(lastEventId, sink) {
      const dialed: Dialed = { lastEventId, sink, aborted: false };
      dials.push(dialed);
      return () => {
        dialed.aborted = true;
      };
    },
    command: async () => 'ok',
    stop: () => undefined,
  };
  return { transport, dials };
}

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

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('tab sharing over BroadcastChannel (share.ts)', () => {
  it('a tab that joins late gets the state, the events after it, and the server status, from the leader', async () => {
    const identity = `test-${Math.random()}`;
    const a = fakeTransport();
    const shareA = shareTransport(a.transport, contract, identity, { share: true });
    stops.push(() => shareA.stop(new Error('done') as never));
    const clientA = recorder();
    shareA.dial(undefined, clientA.sink);
    await until(() => a.dials.length === 1, 'the leader dials the server');
    const server = a.dials[0]?.sink as LinkSink;
    server.open();
    server.server({ bus: 'degraded' });
    server.snapshot({ led: { on: false }, tick: 0, pins: {} }, 'e-0');
    server.event('tick', 1, 'e-1');

    const b = fakeTransport();
    const shareB = shareTransport(b.transport, contract, identity, { share: true });
    stops.push(() => shareB.stop(new Error('done') as never));
    const clientB = recorder();
    shareB.dial(undefined, clientB.sink);
    await until(() => clientB.seen.includes('open'), 'the follower open');
    server.event('tick', 2, 'e-2');
    await until(() => clientB.seen.includes('event tick 2 e-2'), 'the follower caught up');
    // The follower never dialled the server itself; it starts from the leader's folded state and status.
    expect(b.dials).toHaveLength(0);
    expect(clientB.seen).toEqual([
      'server degraded',
      'snapshot {"led":{"on":false},"tick":1,"pins":{}} e-1',
      'open',
      'event tick 2 e-2',
    ]);
    expect(clientA.seen).toEqual([
      'open',
      'server degraded',
      'snapshot {"led":{"on":false},"tick":0,"pins":{}} e-0',
      'event tick 1 e-1',
      'event tick 2 e-2',
    ]);
  });

  it('when the leader stops, the successor it named dials at once, resuming from its own last id', async () => {
    const identity = `test-${Math.random()}`;
    const a = fakeTransport();
    const shareA = shareTransport(a.transport, contract, identity, { share: true });
    const clientA = recorder();
    shareA.dial(undefined, clientA.sink);
    await until(() => a.dials.length === 1, 'the leader dials the server');
    const first = a.dials[0]?.sink as LinkSink;
    first.open();
    first.snapshot({ led: { on: false }, tick: 0, pins: {} }, 'e-0');

    const b = fakeTransport();
    const shareB = shareTransport(b.transport, contract, identity, { share: true });
    stops.push(() => shareB.stop(new Error('done') as never));
    const clientB = recorder();
    shareB.dial(undefined, clientB.sink);
    await until(() => clientB.seen.includes('open'), 'the follower open');
    first.event('tick', 1, 'e-1');
    await until(() => clientB.seen.includes('event tick 1 e-1'), 'the follower has e-1');
    // Let a heartbeat name B the successor, then stop A (its page closes).
    await new Promise((resolve) => setTimeout(resolve, 300));
    shareA.stop(new Error('closed') as never);
    expect(a.dials[0]?.aborted).toBe(true);
    await until(() => b.dials.length === 1, 'the successor dials');
    expect(b.dials[0]?.lastEventId).toBe('e-1');
    const second = b.dials[0]?.sink as LinkSink;
    second.event('tick', 2, 'e-2');
    await until(() => clientB.seen.includes('event tick 2 e-2'), 'events from the new connection');
    expect(clientB.seen.filter((s) => s.startsWith('event'))).toEqual(['event tick 1 e-1', 'event tick 2 e-2']);
  });
});
