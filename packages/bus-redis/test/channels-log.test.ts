/**
 * Issue 22's test T1, on the event LOG and over real sockets: two hubs on
 * one real Redis, each behind a WebSocket endpoint on 127.0.0.1, 200
 * channels publishing from either instance while WebSocket clients add and
 * drop channels and move between the instances (resuming with their last
 * id) at random moments (fixed seed). channels.test.ts compares folded
 * state in process; this compares what each client was written.
 *
 * The truth is what was published: each publish returns its global id, and
 * a channel's log is its events in id order (the bus's order). Each event's
 * value is unique, and the state counts the events folded, so a snapshot
 * says exactly how many of its channel's events it covers. Then, for every
 * span a client held a channel (from its snapshot to the `unsubscribe`
 * result, across moves), the events it received must be exactly the
 * channel's next events after the snapshot — each once, in order, none
 * missing, none of a channel it did not hold — and every id on one
 * connection must grow. At the end each client's folded state equals a
 * fresh client's snapshot, and a fresh client replaying every channel from
 * the start of the streams receives exactly the published log.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, defineContract, type Hub, typed } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { createWsEndpoint } from '@boardcast/ws-server';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBus } from '../src/index.js';
import { eventually as pollUntil, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

const contract = defineContract({
  events: { tick: typed<number>() },
  commands: {},
  state: typed<{ count: number; last: number }>(),
  reducers: { tick: (state, value) => ({ count: state.count + 1, last: value }) },
});
type State = { count: number; last: number };
const initial: State = { count: 0, last: 0 };

const eventually = <T>(check: () => T | Promise<T>): Promise<T> => pollUntil(check, 30_000);

/** Redis stream ids (`ms-seq`) in order. */
function compare(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : Number(am - bm);
}

interface Frame {
  type: string;
  id?: string | number | null;
  channel?: string;
  data?: unknown;
  ok?: boolean;
}

/** One span during which a client held a channel: the snapshot's count, then the values received. */
interface Span {
  readonly channel: string;
  readonly from: number;
  readonly last: number;
  readonly values: number[];
}

/**
 * A WebSocket client as strict as a browser's mirror: it keeps one open
 * span per held channel, across reconnects (a resume continues the span),
 * and records every violation it sees as it happens.
 */
class LogClient {
  readonly spans: Span[] = [];
  readonly open = new Map<string, Span>();
  readonly violations: string[] = [];
  /** value → the id it arrived with, per channel (frames with an id only). */
  readonly idOf = new Map<string, Map<number, string>>();
  position = '';
  #socket: WebSocket | undefined;
  #results = new Map<number, (frame: Frame) => void>();
  #nextId = 1;
  #connectionPosition = '';

  /** Connect to `origin` holding `channels`, resuming after `lastEventId` when given. */
  async connect(origin: string, channels: readonly string[], lastEventId?: string): Promise<void> {
    const query = new URLSearchParams({ channels: channels.join(',') });
    if (lastEventId) query.set('lastEventId', lastEventId);
    const socket = new WebSocket(`ws://${origin}/ws?${query}`, WS_PROTOCOL);
    this.#socket = socket;
    this.#connectionPosition = '';
    socket.on('message', (raw) => this.#frame(JSON.parse(String(raw)) as Frame));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk;
        });
        res.on('end', () => reject(new Error(`upgrade refused ${res.statusCode}: ${body.slice(0, 300)}`)));
      });
    });
  }

  /** Drop the socket at once (frames in flight are lost; the position says what arrived). */
  async drop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.terminate();
    await closed;
  }

  /** Send a subscribe/unsubscribe and wait for its result. */
  request(
    type: 'subscribe' | 'unsubscribe',
    channels: readonly (string | { channel: string; since: string })[],
  ): Promise<Frame> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#results.set(id, resolve);
      this.#socket?.send(JSON.stringify({ type, id, channels }));
    });
  }

  /** Channels resumed with `since` before any snapshot: their spans start at the channel's beginning. */
  assumeFromStart(channels: readonly string[]): void {
    for (const channel of channels) this.open.set(channel, { channel, from: 0, last: 0, values: [] });
  }

  #frame(f: Frame): void {
    if (f.type === 'status') return;
    if (f.type === 'result') {
      if (f.ok && Array.isArray((f.data as { removed?: unknown })?.removed)) {
        // Nothing of a removed channel follows this result: its span ends here.
        for (const channel of (f.data as { removed: string[] }).removed) this.#close(channel);
      }
      this.#results.get(f.id as number)?.(f);
      this.#results.delete(f.id as number);
      return;
    }
    const channel = f.channel as string;
    if (typeof f.id === 'string') {
      if (this.#connectionPosition !== '' && compare(f.id, this.#connectionPosition) < 0) {
        this.violations.push(`id went back on one connection: ${f.id} after ${this.#connectionPosition}`);
      }
      this.#connectionPosition = f.id;
      this.position = f.id;
    }
    if (f.type === 'snapshot') {
      // A second snapshot of a held channel (a reset) starts a new span.
      this.#close(channel);
      const state = f.data as State;
      this.open.set(channel, { channel, from: state.count, last: state.last, values: [] });
    } else if (f.type === 'event') {
      const span = this.open.get(channel);
      if (!span) {
        this.violations.push(`event ${String(f.data)} of ${channel}, which is not held`);
        return;
      }
      span.values.push(f.data as number);
      if (typeof f.id === 'string') {
        const ids = this.idOf.get(channel) ?? new Map<number, string>();
        this.idOf.set(channel, ids);
        ids.set(f.data as number, f.id);
      }
    } else if (f.type !== 'reset') this.violations.push(`unexpected frame ${JSON.stringify(f).slice(0, 200)}`);
  }

  #close(channel: string): void {
    const span = this.open.get(channel);
    if (span) this.spans.push(span);
    this.open.delete(channel);
  }

  /** The state a browser's mirror of `channel` folds to. */
  folded(channel: string): State | undefined {
    const span = this.open.get(channel);
    if (!span) return undefined;
    return { count: span.from + span.values.length, last: span.values.at(-1) ?? span.last };
  }
}

describe.skipIf(!redisServerPath)('channels on Redis, over WebSocket: every client event log is exact', () => {
  let redis: RedisProcess;
  const servers: Server[] = [];
  const hubs: Hub<typeof contract>[] = [];
  const clients: LogClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.drop();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    for (const h of hubs.splice(0)) await h.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function serve(name: string): Promise<{ hub: Hub<typeof contract>; origin: string }> {
    // History for every event of the run: no client may be reset, so every span must be exact.
    const bus = new RedisBus({ redis: redis.url, name, history: 1000, streamLength: 10_000 });
    const hub = createHub(contract, { state: initial, bus });
    hubs.push(hub);
    await bus.ready;
    await hub.ready;
    const server = createServer((_req, res) => res.end());
    createWsEndpoint(hub, { server });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { hub, origin: `127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  it('two instances, 200 channels, clients adding, dropping and moving at random: each log is exactly its channels’ events', async () => {
    const a = await serve('log1');
    const b = await serve('log1');
    const instances = [a, b];
    const CHANNELS = 200;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `c${i}`);
    const rng = fc.sample(fc.integer({ min: 0, max: 1_000_000 }), { seed: 2201, numRuns: 20_000 });
    let r = 0;
    const next = (n: number) => (rng[r++ % rng.length] as number) % n;
    const published = new Map<string, { id: string; value: number }[]>(channels.map((c) => [c, []]));
    let value = 0;
    const publish = async (): Promise<void> => {
      const channel = channels[next(CHANNELS)] as string;
      const v = ++value;
      const id = await (instances[next(2)] as (typeof instances)[number]).hub.channel(channel).publish('tick', v);
      published.get(channel)?.push({ id, value: v });
    };
    /** Each client, where it is, and what it holds (for a move). */
    const where = new Map<LogClient, number>();

    for (let i = 0; i < 12; i++) {
      const client = new LogClient();
      clients.push(client);
      const at = next(2);
      where.set(client, at);
      await client.connect(
        (instances[at] as (typeof instances)[number]).origin,
        Array.from({ length: 5 + next(16) }, () => channels[next(CHANNELS)] as string),
      );
    }

    let moves = 0;
    for (let round = 0; round < 100; round++) {
      // Every round some channels publish, from either instance, while clients change their sets.
      const publishes = Array.from({ length: 20 }, () => publish());
      const client = clients[next(clients.length)] as LogClient;
      const action = next(4);
      if (action === 0 || action === 1) {
        const added = Array.from({ length: 1 + next(5) }, () => channels[next(CHANNELS)] as string);
        const result = await client.request('subscribe', added);
        expect(result.ok).toBe(true);
      } else if (action === 2) {
        const held = [...client.open.keys()];
        if (held.length > 0) await client.request('unsubscribe', [held[next(held.length)] as string]);
      } else {
        // Move to the other instance, resuming every held channel after the last id received.
        const held = [...client.open.keys()];
        const position = client.position;
        await client.drop();
        const to = 1 - (where.get(client) as number);
        where.set(client, to);
        await client.connect((instances[to] as (typeof instances)[number]).origin, held, position || undefined);
        moves++;
      }
      await Promise.all(publishes);
    }

    // Every publish has resolved on its own instance; wait until both have folded everything.
    const total = value;
    await eventually(() => expect(b.hub.headId).toBe(a.hub.headId));
    const log = new Map<string, { id: string; value: number }[]>();
    for (const [channel, events] of published)
      log.set(
        channel,
        [...events].sort((x, y) => compare(x.id, y.id)),
      );
    expect([...log.values()].reduce((n, events) => n + events.length, 0)).toBe(total);

    // Each client ends holding every event of its channels (it catches up live).
    await eventually(() => {
      for (const client of clients) {
        for (const [channel, span] of client.open) {
          expect([channel, span.from + span.values.length]).toEqual([channel, log.get(channel)?.length]);
        }
      }
    });

    let spans = 0;
    let delivered = 0;
    for (const client of clients) {
      expect(client.violations).toEqual([]);
      for (const span of [...client.spans, ...client.open.values()]) {
        const events = log.get(span.channel) ?? [];
        // The snapshot covers exactly the channel's first `from` events…
        expect([span.channel, span.last]).toEqual([span.channel, span.from === 0 ? 0 : events[span.from - 1]?.value]);
        // …and then came exactly the next ones, each once, in bus order.
        expect([span.channel, span.values]).toEqual([
          span.channel,
          events.slice(span.from, span.from + span.values.length).map((e) => e.value),
        ]);
        spans++;
        delivered += span.values.length;
      }
      // An event's id on the wire is the id it was published with.
      for (const [channel, ids] of client.idOf) {
        const byValue = new Map((log.get(channel) ?? []).map((e) => [e.value, e.id]));
        for (const [v, id] of ids) expect([channel, v, id]).toEqual([channel, v, byValue.get(v)]);
      }
    }
    // The run did exercise what it checks.
    expect(spans).toBeGreaterThan(150);
    expect(delivered).toBeGreaterThan(1000);
    expect(moves).toBeGreaterThan(10);
    expect(clients.some((c) => c.spans.length > 0)).toBe(true);

    // A fresh client of the same channels, on either instance, folds to the same state.
    for (const client of [...clients]) {
      const held = [...client.open.keys()];
      if (held.length === 0) continue;
      const fresh = new LogClient();
      clients.push(fresh);
      await fresh.connect((instances[next(2)] as (typeof instances)[number]).origin, held);
      await eventually(() => expect(fresh.open.size).toBe(held.length));
      for (const channel of held) expect([channel, client.folded(channel)]).toEqual([channel, fresh.folded(channel)]);
    }

    // A fresh client replaying every channel from the start of the streams receives exactly the log.
    const replay = new LogClient();
    clients.push(replay);
    await replay.connect(a.origin, []);
    replay.assumeFromStart(channels);
    const result = await replay.request(
      'subscribe',
      channels.map((channel) => ({ channel, since: '0-0' })),
    );
    expect(result.ok).toBe(true);
    await eventually(() => {
      for (const channel of channels) {
        expect([channel, replay.folded(channel)?.count]).toEqual([channel, log.get(channel)?.length]);
      }
    });
    expect(replay.violations).toEqual([]);
    for (const channel of channels) {
      const span = replay.open.get(channel) as Span;
      expect([channel, span.from, span.values]).toEqual([channel, 0, (log.get(channel) ?? []).map((e) => e.value)]);
    }
  }, 180_000);
});
