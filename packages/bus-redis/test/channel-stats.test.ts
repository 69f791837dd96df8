/**
 * Issue 22: "Per-channel metrics (subscribers, history bytes, evictions)
 * readable by the program", on Redis: `hub.channel(id).metrics` and
 * `bus.readChannelStats` against a real redis-server, two instances.
 */
import { createHub, defineContract, typed } from '@boardcast/core';
import type { HubSink } from '@boardcast/core/wire';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisBus, type RedisBusOptions } from '../src/index.js';
import { eventually, redisServerPath } from './redis-server.js';
import { redisPerSuite } from './redis-suite.js';

const contract = defineContract({
  events: { note: typed<string>() },
  commands: {},
  state: typed<{ notes: number }>(),
  reducers: { note: (state) => ({ notes: state.notes + 1 }) },
});

/** Bytes the stream holds for one `note` event: the name and the JSON, in UTF-8. */
const noteBytes = (text: string) => Buffer.byteLength('note') + Buffer.byteLength(JSON.stringify(text));
const sum = (texts: readonly string[]) => texts.reduce((n, t) => n + noteBytes(t), 0);
const silent: HubSink = { snapshot: () => undefined, event: () => undefined, reset: () => undefined };

describe.skipIf(!redisServerPath)('per-channel metrics on Redis', () => {
  const redis = redisPerSuite();
  const { open } = redis;
  let names = 0;

  async function instance(name: string, options: Omit<RedisBusOptions, 'redis' | 'name'> = {}) {
    const bus = new RedisBus({ redis: redis.url, name, ...options });
    const hub = createHub(contract, { state: { notes: 0 }, bus });
    open.push(bus, hub);
    await bus.ready;
    await hub.ready;
    return { bus, hub };
  }

  it('events, bytes and evictions of a channel, the same on every instance; hub metrics follow them', async () => {
    const name = `stats${++names}`;
    const a = await instance(name, { history: 3, historyMaxAgeMs: 0 });
    const b = await instance(name, { history: 3, historyMaxAgeMs: 0 });
    const texts = ['one', 'two', 'thrée', 'four', 'five'];
    for (const text of texts) await a.hub.channel('kitchen').publish('note', text);
    await b.hub.channel('garage').publish('note', 'g');

    const kitchen = { events: 3, bytes: sum(texts.slice(2)), evictions: 2 };
    const garage = { events: 1, bytes: noteBytes('g'), evictions: 0 };
    const none = { events: 0, bytes: 0, evictions: 0 };
    expect(await a.bus.readChannelStats(['kitchen', 'garage', 'nowhere'])).toEqual([kitchen, garage, none]);
    expect(await b.bus.readChannelStats(['kitchen', 'garage'])).toEqual([kitchen, garage]);
    // 'thrée' counts its UTF-8 bytes (the é is two), as Redis stores them.
    expect(kitchen.bytes).toBe(sum(['thr', 'four', 'five']) + 3);

    // The synchronous figures the hub reads (a third instance, nothing read yet):
    // zeros until the read the first call queued has come back, then they follow Redis.
    const c = await instance(name, { history: 3, historyMaxAgeMs: 0 });
    c.hub.connect({ channels: ['kitchen'] }, silent);
    c.hub.connect({ channels: ['kitchen', 'garage'] }, silent);
    expect(c.hub.channel('kitchen').metrics).toEqual({ subscribers: 2, history: none });
    await eventually(() => expect(c.hub.channel('kitchen').metrics).toEqual({ subscribers: 2, history: kitchen }));
    expect(c.hub.channel('garage').metrics.subscribers).toBe(1);
    await a.hub.channel('kitchen').publish('note', 'six');
    const after = { events: 3, bytes: sum(['four', 'five', 'six']), evictions: 3 };
    await eventually(() => expect(c.hub.channel('kitchen').metrics.history).toEqual(after));
    expect(a.hub.channel('kitchen').metrics.subscribers).toBe(0); // subscribers are per instance

    // Removal frees the history: the figures start again from nothing.
    await a.hub.channel('kitchen').remove();
    await eventually(async () => expect(await b.bus.readChannelStats(['kitchen'])).toEqual([none]));
    expect(await a.bus.readChannelStats(['kitchen'])).toEqual([none]);
    await a.hub.channel('kitchen').publish('note', 'again');
    expect(await b.bus.readChannelStats(['kitchen'])).toEqual([{ events: 1, bytes: noteBytes('again'), evictions: 0 }]);
  });

  it('an age trim counts as evictions, and the longer of the count and age trims is what goes', async () => {
    const { bus, hub } = await instance(`stats${++names}`, { history: 3, historyMaxAgeMs: 300 });
    for (const text of ['a', 'b']) await hub.channel('porch').publish('note', text);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Only the age trim applies: a and b go.
    await hub.channel('porch').publish('note', 'c');
    expect(await bus.readChannelStats(['porch'])).toEqual([{ events: 1, bytes: noteBytes('c'), evictions: 2 }]);
    for (const text of ['d', 'e']) await hub.channel('porch').publish('note', text);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Both apply (the count would drop c, the age c, d and e): three go, not four.
    await hub.channel('porch').publish('note', 'f');
    expect(await bus.readChannelStats(['porch'])).toEqual([{ events: 1, bytes: noteBytes('f'), evictions: 5 }]);
    // Only the count applies: f goes.
    for (const text of ['g', 'h', 'i']) await hub.channel('porch').publish('note', text);
    expect(await bus.readChannelStats(['porch'])).toEqual([{ events: 3, bytes: sum(['g', 'h', 'i']), evictions: 6 }]);
    // What the figures describe is the stream itself.
    const raw = new Redis(redis.url);
    open.push({ close: () => raw.quit() });
    expect(await raw.xlen(`{${bus.name}}:ch:porch`)).toBe(3);
  });

  it('a channel stream written before the figures were kept is counted once, at its next publish', async () => {
    const name = `stats${++names}`;
    const { bus, hub } = await instance(name, { history: 5, historyMaxAgeMs: 0 });
    for (const text of ['x', 'y']) await hub.channel('attic').publish('note', text);
    const raw = new Redis(redis.url);
    open.push({ close: () => raw.quit() });
    await raw.hdel(`{${name}}:ch-stats`, 'attic'); // as a 0.2 pre-release bus left it
    expect(await bus.readChannelStats(['attic'])).toEqual([{ events: 0, bytes: 0, evictions: 0 }]);
    await hub.channel('attic').publish('note', 'z');
    expect(await bus.readChannelStats(['attic'])).toEqual([{ events: 3, bytes: sum(['x', 'y', 'z']), evictions: 0 }]);
  });
});
