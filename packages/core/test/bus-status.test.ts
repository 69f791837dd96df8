import { describe, expect, it } from 'vitest';
import { type BusStatus, createHub, MemoryBus } from '../src/index.js';
import {
  decodeServerFrame,
  type EncodedEvent,
  type EncodedSnapshot,
  type HubSink,
  parseServerStatus,
} from '../src/wire.js';
import { initialState, ledContract } from './fixtures.js';

/**
 * A memory bus that reports its health like a networked one: `status` is
 * read at any time and `onStatus` fires on every change only (as RedisBus
 * does), so the hub can rely on neither repeated nor missing transitions.
 */
class FlakyBus extends MemoryBus {
  #status: BusStatus = 'ok';
  readonly #listeners = new Set<(status: BusStatus) => void>();
  get status(): BusStatus {
    return this.#status;
  }
  onStatus(listener: (status: BusStatus) => void): () => void {
    const entry = (status: BusStatus) => listener(status);
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }
  set(status: BusStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const listener of this.#listeners) listener(status);
  }
  get statusListeners(): number {
    return this.#listeners.size;
  }
}

/** What an SSE and a WS transport would write, frame by frame. */
function wire() {
  const sse: string[] = [];
  const ws: string[] = [];
  const sink: HubSink = {
    snapshot: (s: EncodedSnapshot) => {
      sse.push(s.sse);
      ws.push(s.ws);
    },
    event: (e: EncodedEvent) => {
      sse.push(e.sse);
      ws.push(e.ws);
    },
    reset: (reason) => sse.push(`reset:${reason}`),
  };
  return { sse, ws, sink };
}

function makeHub(bus = new FlakyBus()) {
  const hub = createHub(ledContract, { state: initialState, bus });
  hub.handle('led', async ({ state }) => {
    const on = state === 'on';
    await hub.publish('led', { on });
    return { on };
  });
  return { hub, bus };
}

const SSE_DEGRADED = 'event: ~status\ndata: {"bus":"degraded"}\n\n';
const SSE_OK = 'event: ~status\ndata: {"bus":"ok"}\n\n';

describe('a bus that reports its health', () => {
  it('starts every stream with a status frame (no id), sends every change, and exposes hub.busStatus', async () => {
    const { hub, bus } = makeHub();
    const seen: BusStatus[] = [];
    hub.on('busStatus', (s) => seen.push(s));
    const a = wire();
    hub.attach({}, a.sink);
    expect(a.sse).toHaveLength(2);
    expect(a.sse[0]).toBe(SSE_OK);
    expect(a.sse[1]).toMatch(/^id: \w+-0\nevent: snapshot\n/);
    expect(a.ws[0]).toBe('{"type":"status","data":{"bus":"ok"}}');

    bus.set('degraded');
    expect(seen).toEqual(['degraded']);
    expect(hub.busStatus).toBe('degraded');
    expect(a.sse.at(-1)).toBe(SSE_DEGRADED);
    expect(a.ws.at(-1)).toBe('{"type":"status","data":{"bus":"degraded"}}');
    expect(decodeServerFrame(a.ws.at(-1) ?? '')).toEqual({ type: 'status', data: { bus: 'degraded' } });

    // A stream opened now is told first, whatever events it filters.
    const filtered = wire();
    hub.attach({ events: new Set(['time']) }, filtered.sink);
    expect(filtered.sse[0]).toBe(SSE_DEGRADED);
    expect(filtered.sse[1]).toMatch(/^id: \w+-0\nevent: snapshot\n/);

    bus.set('ok');
    expect(seen).toEqual(['degraded', 'ok']);
    expect(a.sse.at(-1)).toBe(SSE_OK);
    expect(filtered.sse.at(-1)).toBe(SSE_OK);
  });

  it('refuses commands with bus_unavailable (503) while degraded, and runs them again once ok', async () => {
    const { hub, bus } = makeHub();
    bus.set('degraded');
    const refused = await hub.dispatch('led', { state: 'on' }, { transport: 'http' });
    expect(refused.ok).toBe(false);
    expect(refused.ok ? undefined : [refused.error.code, refused.error.status]).toEqual(['bus_unavailable', 503]);
    // Nothing ran: the LED event was never published.
    expect(hub.headId).toBeUndefined();
    // An unknown command is still that, not a bus problem.
    const unknown = await hub.dispatch('nope', {});
    expect(unknown.ok ? undefined : unknown.error.code).toBe('unknown_command');
    bus.set('ok');
    expect(await hub.call('led', { state: 'on' })).toEqual({ on: true });
  });

  it('keeps status frames out of events: not on hub.subscribe, not in history, no resume id', async () => {
    const { hub, bus } = makeHub();
    const live: string[] = [];
    hub.subscribe((e) => live.push(e.event));
    const id = await hub.publish('time', '12:00');
    bus.set('degraded');
    bus.set('ok');
    await hub.publish('time', '12:01');
    expect(live).toEqual(['time', 'time']);
    const resumed = wire();
    hub.attach({ lastEventId: id }, resumed.sink);
    expect(resumed.sse.map((f) => f.split('\n')[0])).toEqual(['event: ~status', expect.stringMatching(/^id: /)]);
    expect(resumed.sse.filter((f) => f.includes('~status')).every((f) => !f.includes('id:'))).toBe(true);
  });

  it('stops listening to the bus when the hub closes', async () => {
    const { hub, bus } = makeHub();
    expect(bus.statusListeners).toBe(1);
    await hub.close();
    expect(bus.statusListeners).toBe(0);
  });
});

describe('a bus that does not report its health (in-memory)', () => {
  it('sends no status frame, runs commands, and reads ok', async () => {
    const hub = createHub(ledContract, { state: initialState });
    hub.handle('led', ({ state }) => ({ on: state === 'on' }));
    const a = wire();
    hub.attach({}, a.sink);
    expect(a.sse).toHaveLength(1);
    expect(a.sse[0]).toMatch(/^id: \w+-0\nevent: snapshot\n/);
    expect(hub.busStatus).toBe('ok');
    expect(await hub.call('led', { state: 'on' })).toEqual({ on: true });
  });
});

describe('parseServerStatus', () => {
  it('accepts only { bus: "ok" | "degraded" }', () => {
    expect(parseServerStatus({ bus: 'degraded', extra: 1 })).toEqual({ bus: 'degraded' });
    expect(parseServerStatus({ bus: 'down' })).toBeUndefined();
    expect(parseServerStatus(null)).toBeUndefined();
    expect(parseServerStatus('ok')).toBeUndefined();
    expect(() => decodeServerFrame('{"type":"status","data":{"bus":1}}')).toThrow(/unknown or malformed/);
  });
});
