import { describe, expect, it } from 'vitest';
import { createHub, type Hub, MemoryBus } from '../src/index.js';
import { type EncodedEvent, type EncodedSnapshot, encodeSseReset } from '../src/wire.js';
import { initialState, ledContract } from './fixtures.js';

/**
 * A browser's `EventSource`, as strict as the WHATWG "event stream
 * interpretation": it reads the bytes a transport writes, and its
 * Last-Event-ID changes only when a dispatched event carried an `id:` field
 * (an event without one keeps the old value). Each `connect` sends that
 * value back, as a browser does when it reconnects.
 */
class NativeEventSource {
  lastEventId = '';
  readonly events: { type: string; data: string; lastEventId: string }[] = [];
  #idBuffer = '';
  #detach: (() => void) | undefined;

  connect(hub: Hub<typeof ledContract>): void {
    this.#detach?.();
    let pending = '';
    const feed = (text: string) => {
      pending += text;
      let end = pending.indexOf('\n\n');
      while (end >= 0) {
        this.#block(pending.slice(0, end));
        pending = pending.slice(end + 2);
        end = pending.indexOf('\n\n');
      }
    };
    this.#detach = hub.attach(
      { lastEventId: this.lastEventId || undefined },
      {
        snapshot: (s: EncodedSnapshot) => feed(s.sse),
        event: (e: EncodedEvent) => feed(e.sse),
        reset: (reason) => feed(encodeSseReset(reason)),
      },
    );
  }

  #block(block: string): void {
    let type = '';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) this.#idBuffer = value;
    }
    // The buffer persists across blocks: a block without `id:` leaves it as it was.
    this.lastEventId = this.#idBuffer;
    if (data.length === 0) return;
    this.events.push({ type: type || 'message', data: data.join('\n'), lastEventId: this.lastEventId });
  }

  close(): void {
    this.#detach?.();
  }
}

function hubAt(epoch: string) {
  return createHub(ledContract, { state: initialState, bus: new MemoryBus({ epoch }) });
}

const count = (source: NativeEventSource, type: string) => source.events.filter((e) => e.type === type).length;

describe('the snapshot', () => {
  it('is serialized once per change: the same object until an event or setState changes the state', async () => {
    const hub = hubAt('ddd');
    const first = hub.snapshot();
    expect(hub.snapshot()).toBe(first);
    await hub.setState((s) => ({ ...s, led: { on: true } }));
    const second = hub.snapshot();
    expect(second).not.toBe(first);
    expect(JSON.parse(second.json)).toMatchObject({ led: { on: true } });
    expect(hub.snapshot()).toBe(second);
    await hub.close();
  });
});

describe('a snapshot before any event', () => {
  it('carries an id the server accepts, so a native EventSource reset once resumes from then on', async () => {
    // The first server process: the browser holds one of its ids.
    const before = hubAt('aaa');
    const source = new NativeEventSource();
    source.connect(before);
    await before.publish('time', '11:00');
    expect(source.lastEventId).toBe('aaa-1');
    await before.close();

    // A restarted server (new epoch) with no event yet: the old id is foreign.
    const after = hubAt('bbb');
    source.connect(after);
    expect(count(source, 'reset')).toBe(1);
    expect(source.lastEventId).toBe('bbb-0');

    // Every later reconnect resumes from it: no second reset, and what was
    // published meanwhile is replayed, not replaced by a snapshot.
    for (let i = 0; i < 3; i++) source.connect(after);
    expect(count(source, 'reset')).toBe(1);
    expect(count(source, 'snapshot')).toBe(2);
    await after.publish('time', '12:00');
    source.close();
    source.connect(after);
    expect(count(source, 'reset')).toBe(1);
    expect(source.events.at(-1)).toEqual({ type: 'time', data: '"12:00"', lastEventId: 'bbb-1' });
    source.close();
  });

  it('is a gap once the events after the origin are no longer in history', async () => {
    const hub = createHub(ledContract, { state: initialState, bus: new MemoryBus({ epoch: 'ccc', history: 2 }) });
    const source = new NativeEventSource();
    source.connect(hub);
    expect(source.lastEventId).toBe('ccc-0');
    source.close();
    for (const t of ['1', '2', '3']) await hub.publish('time', t);
    // Event 1 fell out of history: replaying from the origin would miss it.
    source.connect(hub);
    expect(count(source, 'reset')).toBe(1);
    expect(source.lastEventId).toBe('ccc-3');
  });
});
