import { describe, expect, it, vi } from 'vitest';
import {
  type Bus,
  type BusListener,
  createHub,
  DEFAULT_CHANNEL,
  DIRECTORY,
  MemoryBus,
  type StateCheckpoint,
} from '../src/index.js';
import type { EncodedEvent } from '../src/wire.js';
import { tickContract } from './fixtures.js';

/**
 * What several instances share on a network bus (Redis Streams): one ordered
 * log of every event and the newest checkpoint of each channel.
 */
class SharedStream {
  readonly inner = new MemoryBus({ epoch: 'shared' });
  readonly log: EncodedEvent[] = [];
  readonly checkpoints = new Map<string, { id: string; json: string }>();
  readonly saves: { id: string; channel: string | undefined }[] = [];
  constructor() {
    this.inner.subscribe((event) => this.log.push(event));
  }
}

/**
 * One instance's view of a {@link SharedStream}, as strict as RedisBus: a
 * channel keeps only its newest checkpoint by id; events read before
 * `loadState()` are held and handed over inside it, before the checkpoints
 * return; without a checkpoint for every channel the instance is given the
 * whole log (the hub must skip what a checkpoint already holds); live events
 * reach this instance only when `flush()` says so when `lagging`.
 */
class CheckpointBus implements Bus {
  readonly #listeners = new Set<BusListener>();
  #loaded = false;
  #lagging: EncodedEvent[] | undefined;
  readonly channelCheckpoints: boolean;
  readonly checkpointEvery: number;
  readonly removed: { channel: string; id: string }[] = [];
  readonly #lost = new Set<() => void>();
  readonly #resync = new Set<(checkpoint: StateCheckpoint) => void>();
  saveError: 'throw' | 'reject' | undefined;
  removeError: boolean | 'throw' = false;
  constructor(
    readonly stream: SharedStream,
    options: { every: number; perChannel?: boolean; lagging?: boolean },
  ) {
    this.checkpointEvery = options.every;
    this.channelCheckpoints = options.perChannel ?? true;
    if (options.lagging) this.#lagging = [];
    stream.inner.subscribe((event) => {
      if (!this.#loaded) return;
      if (this.#lagging) this.#lagging.push(event);
      else this.#emit(event);
    });
  }
  #emit(event: EncodedEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
  /** A lagging instance reads what it held back (the oldest `count` of it, default all). */
  flush(count = Number.POSITIVE_INFINITY): void {
    const held = this.#lagging ?? [];
    this.#lagging = held.slice(count);
    for (const event of held.slice(0, count)) this.#emit(event);
  }
  /** Events held back are trimmed before this instance reads them (a long cut): it never gets the oldest `count`. */
  drop(count: number): void {
    this.#lagging = (this.#lagging ?? []).slice(count);
  }
  /** The stored checkpoints are gone (a Redis restart without persistence): the listeners are asked to save again. */
  onCheckpointLost(listener: () => void) {
    const entry = () => listener();
    this.#lost.add(entry);
    return () => this.#lost.delete(entry);
  }
  lose(): void {
    for (const listener of this.#lost) listener();
  }
  /** Events this instance missed are gone: it is handed a checkpoint instead (as RedisBus after a long cut). */
  onResync(listener: (checkpoint: StateCheckpoint) => void) {
    const entry = (checkpoint: StateCheckpoint) => listener(checkpoint);
    this.#resync.add(entry);
    return () => this.#resync.delete(entry);
  }
  resync(checkpoint: StateCheckpoint): void {
    for (const listener of this.#resync) listener(checkpoint);
  }
  get headId() {
    return this.#loaded ? this.stream.inner.headId : undefined;
  }
  get originId() {
    return this.stream.inner.originId;
  }
  publish(event: string, data: unknown, json: string, channel?: string) {
    return this.stream.inner.publish(event, data, json, channel);
  }
  subscribe(listener: BusListener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  since(lastId: string, channel?: string) {
    return this.stream.inner.since(lastId, channel);
  }
  compareIds(a: string, b: string) {
    return this.stream.inner.compareIds(a, b);
  }
  async loadState(): Promise<readonly StateCheckpoint[]> {
    await Promise.resolve();
    const saved = [...this.stream.checkpoints.entries()];
    const channels = new Set(this.stream.log.map((e) => e.channel));
    const covered = [...channels].every((c) => this.stream.checkpoints.has(c));
    const oldest = covered ? saved.map(([, c]) => c.id).sort((a, b) => this.compareIds(a, b) ?? 0)[0] : undefined;
    const held = this.stream.log.filter((e) => oldest === undefined || (this.compareIds(e.id, oldest) ?? 1) > 0);
    this.#loaded = true;
    for (const event of held) this.#emit(event);
    return saved.map(([channel, c]) => ({ id: c.id, state: JSON.parse(c.json) as unknown, channel }));
  }
  saveState(id: string, json: string, channel?: string): void | Promise<void> {
    if (this.saveError === 'throw') throw new Error('save refused');
    if (this.saveError === 'reject') return Promise.reject(new Error('save refused'));
    this.stream.saves.push({ id, channel });
    const key = channel ?? DEFAULT_CHANNEL;
    const kept = this.stream.checkpoints.get(key);
    if (kept && (this.compareIds(kept.id, id) ?? 0) >= 0) return;
    this.stream.checkpoints.set(key, { id, json });
  }
  removeChannel(channel: string, id: string): void | Promise<void> {
    this.removed.push({ channel, id });
    if (this.removeError === 'throw') throw new Error('remove refused');
    if (this.removeError) return Promise.reject(new Error('remove refused'));
    this.stream.inner.removeChannel(channel, id);
  }
  close() {}
}

const initial = { ticks: 0 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

async function hubOn(bus: CheckpointBus) {
  const hub = createHub(tickContract, { state: initial, bus });
  const states: [unknown, string][] = [];
  const errors: string[] = [];
  hub.on('state', (state, channel) => states.push([state, channel]));
  hub.on('error', (_error, where) => errors.push(where));
  await hub.ready;
  return { hub, states, errors };
}

/**
 * Two instances on one stream, `b` lagging (it delivers only what the test
 * flushes): `a` publishes ticks 3 and 4, and a client of `b` resumes from the
 * first or the second of them; `frames` is what that client gets.
 */
async function resumeOnLaggingInstance(from: 'first' | 'second') {
  const stream = new SharedStream();
  const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 100 }));
  const lagging = new CheckpointBus(stream, { every: 100, lagging: true });
  const { hub: b } = await hubOn(lagging);
  const first = await a.publish('tick', 3);
  const second = await a.publish('tick', 4);
  const frames: { type: string; id?: string | null; data?: unknown }[] = [];
  b.attach(
    { lastEventId: from === 'first' ? first : second },
    {
      snapshot: (s) => frames.push(JSON.parse(s.ws) as { type: string }),
      event: (e) => frames.push(JSON.parse(e.ws) as { type: string }),
      reset: () => frames.push({ type: 'reset' }),
    },
  );
  return { a, b, lagging, second, frames };
}

describe('a hub on a bus with checkpoints', () => {
  it('saves each channel every checkpointEvery events, and a second instance starts from them without folding an event twice', async () => {
    const stream = new SharedStream();
    const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 3 }));
    for (let i = 0; i < 7; i++) await a.channel('one').publish('tick', 1);
    for (let i = 0; i < 2; i++) await a.channel('two').publish('tick', 10);
    for (let i = 0; i < 4; i++) await a.publish('tick', 100);
    await settle();
    const ids = stream.log.map((e) => e.id);
    // one: after its 3rd and 6th tick; the default channel after its 3rd; two never (2 < 3).
    expect(stream.saves).toEqual([
      { id: ids[2], channel: 'one' },
      { id: ids[5], channel: 'one' },
      { id: ids[11], channel: DEFAULT_CHANNEL },
    ]);
    expect(JSON.parse(stream.checkpoints.get('one')?.json ?? '')).toEqual({ ticks: 6 });
    expect(JSON.parse(stream.checkpoints.get(DEFAULT_CHANNEL)?.json ?? '')).toEqual({ ticks: 300 });

    // `two` has no checkpoint, so b is handed the whole log and must skip what one's and the default's hold.
    const { hub: b, states } = await hubOn(new CheckpointBus(stream, { every: 3 }));
    expect(b.channel('one').state).toEqual({ ticks: 7 });
    expect(b.channel('two').state).toEqual({ ticks: 20 });
    expect(b.state).toEqual({ ticks: 400 });
    // Told once per channel it holds after loading, with the state it ended at.
    expect(states.slice(-3).sort((x, y) => x[1].localeCompare(y[1]))).toEqual([
      [{ ticks: 400 }, DEFAULT_CHANNEL],
      [{ ticks: 7 }, 'one'],
      [{ ticks: 20 }, 'two'],
    ]);
    expect(b.snapshot().headId).toBe(ids.at(-1));

    // Live from then on, on both.
    await a.channel('one').publish('tick', 1);
    expect(b.channel('one').state).toEqual({ ticks: 8 });
    await Promise.all([a.close(), b.close()]);
  });

  it('the head of a loaded hub is the newest of its checkpoints and the events after them, never older', async () => {
    const stream = new SharedStream();
    const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 1 }));
    await a.channel('one').publish('tick', 1);
    await a.channel('two').publish('tick', 1);
    await settle();
    const { hub: b } = await hubOn(new CheckpointBus(stream, { every: 1 }));
    // Every channel has a checkpoint: nothing is handed over, the head comes from the checkpoints alone.
    expect(b.snapshot().headId).toBe(stream.log.at(-1)?.id);
    expect(b.channel('two').state).toEqual({ ticks: 1 });
    await Promise.all([a.close(), b.close()]);
  });

  it('a bus without per-channel checkpoints is given the default channel only', async () => {
    const stream = new SharedStream();
    const { hub } = await hubOn(new CheckpointBus(stream, { every: 2, perChannel: false }));
    for (let i = 0; i < 4; i++) await hub.channel('one').publish('tick', 1);
    for (let i = 0; i < 2; i++) await hub.publish('tick', 1);
    await hub.channel('one').describe({ name: 'one' });
    await hub.channel('two').describe({ name: 'two' });
    await settle();
    expect(stream.saves.map((s) => s.channel)).toEqual([DEFAULT_CHANNEL]);
    await hub.close();
  });

  it('the directory is checkpointed like a channel, and a second instance lists it and holds its channels', async () => {
    const stream = new SharedStream();
    const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 2 }));
    await a.channel('one').describe({ name: 'first' });
    await a.channel('two').describe({ name: 'second' });
    await a.channel('three').describe({ name: 'third' });
    await settle();
    const saved = stream.saves.filter((s) => s.channel === DIRECTORY);
    expect(saved).toHaveLength(1);
    const entries = JSON.parse(stream.checkpoints.get(DIRECTORY)?.json ?? '') as { id: string; name: string }[];
    expect(entries.map((e) => [e.id, e.name])).toEqual([
      ['one', 'first'],
      ['two', 'second'],
    ]);

    const { hub: b } = await hubOn(new CheckpointBus(stream, { every: 2 }));
    const page = await b.directoryPage();
    expect(page.entries.map((e) => [e.id, e.name])).toEqual([
      ['one', 'first'],
      ['three', 'third'],
      ['two', 'second'],
    ]);
    expect(['one', 'two', 'three'].map((id) => b.hasChannel(id))).toEqual([true, true, true]);
    await Promise.all([a.close(), b.close()]);
  });

  it('a removed channel is forgotten by the bus with the id of its removal, and its state starts over', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100 });
    const { hub, errors } = await hubOn(bus);
    await hub.channel('one').publish('tick', 5);
    await hub.channel('one').describe({ name: 'one' });
    await hub.channel('one').remove();
    await settle();
    const removal = stream.log.at(-1);
    expect(removal?.channel).toBe(DIRECTORY);
    expect(bus.removed).toEqual([{ channel: 'one', id: removal?.id }]);
    expect(hub.channel('one').state).toEqual(initial);
    expect(stream.inner.since(stream.log[0]?.id ?? '', 'one')).toEqual({ kind: 'gap' });
    // The bus forgot it without a word: nothing to report.
    expect(errors).toEqual([]);
    await hub.close();
  });

  it('a bus that cannot forget a channel is not asked to, and nothing is reported', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100 });
    Object.defineProperty(bus, 'removeChannel', { value: undefined });
    const { hub, errors } = await hubOn(bus);
    await hub.channel('one').publish('tick', 5);
    await hub.channel('one').describe({ name: 'one' });
    await hub.channel('one').remove();
    await settle();
    expect(hub.channel('one').state).toEqual(initial);
    expect(errors).toEqual([]);
    await hub.close();
  });

  it('a failed save or removal is reported by where it failed, whichever checkpoint it was, and the hub keeps serving', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 1 });
    const { hub, errors } = await hubOn(bus);
    const step = async (error: CheckpointBus['saveError'], action: () => Promise<unknown>) => {
      bus.saveError = error;
      errors.length = 0;
      await action();
      await settle();
      return [...errors];
    };
    // A channel's checkpoint, refused at once and later; the directory's, the same.
    expect(await step('throw', () => hub.publish('tick', 1))).toEqual(['bus.saveState']);
    expect(await step('reject', () => hub.publish('tick', 1))).toEqual(['bus.saveState']);
    expect(await step('throw', () => hub.channel('one').describe({ name: 'one' }))).toEqual(['bus.saveState']);
    expect(await step('reject', () => hub.channel('two').describe({ name: 'two' }))).toEqual(['bus.saveState']);
    expect(await step(undefined, () => hub.publish('tick', 1))).toEqual([]);
    bus.removeError = 'throw';
    expect(await step(undefined, () => hub.channel('one').remove())).toEqual(['bus.removeChannel']);
    expect(hub.hasChannel('one')).toBe(false);
    expect(hub.state).toEqual({ ticks: 3 });
    await hub.close();
  });

  it('a bus that fails to save, remove or load is reported as an error and the hub keeps serving', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 1 });
    const { hub, errors } = await hubOn(bus);
    bus.saveError = 'throw';
    await hub.publish('tick', 1);
    bus.saveError = 'reject';
    await hub.publish('tick', 1);
    await hub.channel('one').describe({ name: 'one' });
    bus.removeError = true;
    await hub.channel('one').remove();
    await settle();
    expect(errors.filter((w) => w === 'bus.saveState').length).toBeGreaterThanOrEqual(3);
    expect(errors).toContain('bus.removeChannel');
    expect(hub.state).toEqual({ ticks: 2 });

    // It hands over the events it read, then fails: the hub folds them all onto its initial state.
    const failing = new CheckpointBus(stream, { every: 1 });
    const load = failing.loadState.bind(failing);
    failing.loadState = async () => {
      await load();
      throw new Error('load refused');
    };
    const { hub: b, errors: bErrors } = await hubOn(failing);
    expect(bErrors).toContain('bus.loadState');
    expect(b.state).toEqual({ ticks: 2 });
    await hub.publish('tick', 1);
    expect(b.state).toEqual({ ticks: 3 });
    await Promise.all([hub.close(), b.close()]);
  });

  it('when the bus lost its checkpoints, each channel with an event and the directory are saved again at once', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100 });
    const { hub, errors } = await hubOn(bus);
    hub.channel('quiet');
    await hub.channel('one').publish('tick', 1);
    await hub.channel('one').publish('tick', 1);
    await hub.publish('tick', 1);
    bus.lose();
    await settle();
    const ids = stream.log.map((e) => e.id);
    // A channel without an event, and a directory without a change, have nothing to save.
    expect(stream.saves).toEqual([
      { id: ids[2], channel: DEFAULT_CHANNEL },
      { id: ids[1], channel: 'one' },
    ]);
    await hub.channel('one').describe({ name: 'one' });
    stream.saves.length = 0;
    bus.lose();
    await settle();
    expect(stream.saves).toContainEqual({ id: stream.log.at(-1)?.id, channel: DIRECTORY });
    expect(JSON.parse(stream.checkpoints.get(DIRECTORY)?.json ?? '')).toEqual([{ id: 'one', name: 'one' }]);
    expect(JSON.parse(stream.checkpoints.get('one')?.json ?? '')).toEqual({ ticks: 2 });
    expect(errors).toEqual([]);
    await hub.close();
  });

  it('a 0.1 bus that lost its checkpoint is given the default channel again, never another channel or the directory', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100, perChannel: false });
    const { hub } = await hubOn(bus);
    await hub.channel('one').publish('tick', 1);
    await hub.channel('one').describe({ name: 'one' });
    await hub.publish('tick', 1);
    bus.lose();
    await settle();
    expect(stream.saves).toEqual([{ id: stream.log.at(-1)?.id, channel: DEFAULT_CHANNEL }]);
    await hub.close();
  });

  it('a checkpoint handed over after missed events replaces the state, and the events it holds are not folded again when they arrive', async () => {
    const stream = new SharedStream();
    const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 100 }));
    const lagging = new CheckpointBus(stream, { every: 100, lagging: true });
    const { hub: b, states } = await hubOn(lagging);
    for (let i = 0; i < 3; i++) await a.channel('one').publish('tick', 1);
    const third = stream.log.at(-1)?.id;
    lagging.resync({ id: third, state: { ticks: 3 }, channel: 'one' });
    expect(b.channel('one').state).toEqual({ ticks: 3 });
    expect(states.at(-1)).toEqual([{ ticks: 3 }, 'one']);
    // The three events the checkpoint holds arrive late, the one after it is folded.
    lagging.flush();
    expect(b.channel('one').state).toEqual({ ticks: 3 });
    await a.channel('one').publish('tick', 1);
    lagging.flush();
    expect(b.channel('one').state).toEqual({ ticks: 4 });
    await Promise.all([a.close(), b.close()]);
  });

  it('a checkpoint handed over before the hub loaded is left to the load (it would create a channel the log does not have)', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100 });
    const hub = createHub(tickContract, { state: initial, bus });
    bus.resync({ id: 'shared-9', state: { ticks: 99 }, channel: 'ghost' });
    await hub.ready;
    expect(hub.hasChannel('ghost')).toBe(false);
    expect(hub.channels).toEqual([DEFAULT_CHANNEL]);
    await hub.close();
  });

  it('the directory is not changed again by changes its checkpoint already holds when the whole log is handed over', async () => {
    const stream = new SharedStream();
    const { hub: a } = await hubOn(new CheckpointBus(stream, { every: 2 }));
    // `x` has no checkpoint (1 < 2), so a second instance is handed the whole log.
    await a.channel('x').publish('tick', 1);
    await a.channel('one').describe({ name: 'first' });
    await a.channel('two').describe({ name: 'second' });
    await a.channel('three').describe({ name: 'third' });
    await settle();
    expect(stream.checkpoints.has(DIRECTORY)).toBe(true);
    const bus = new CheckpointBus(stream, { every: 2 });
    const b = createHub(tickContract, { state: initial, bus });
    const changes: unknown[] = [];
    b.on('directory', (change) => changes.push(change));
    await b.ready;
    // Only the change after the checkpoint is news.
    expect(changes).toEqual([{ channel: 'three', set: { name: 'third' } }]);
    expect([...b.directory.keys()].sort()).toEqual(['one', 'three', 'two']);
    expect(b.channel('x').state).toEqual({ ticks: 1 });
    await Promise.all([a.close(), b.close()]);
  });

  it('a 0.1 bus that loads one checkpoint (not a list) starts the default channel from it', async () => {
    const stream = new SharedStream();
    const bus = new CheckpointBus(stream, { every: 100, perChannel: false });
    const id = await stream.inner.publish('tick', 1, '1');
    const load = bus.loadState.bind(bus);
    // The 0.1 form: one checkpoint, not a list.
    bus.loadState = async () => {
      await load();
      return { id, state: { ticks: 41 } } as unknown as readonly StateCheckpoint[];
    };
    const { hub } = await hubOn(bus);
    expect(hub.state).toEqual({ ticks: 41 });
    expect(hub.snapshot().headId).toBe(id);
    await hub.publish('tick', 1);
    expect(hub.state).toEqual({ ticks: 42 });
    await hub.close();
  });

  it('a resume from an id this instance has not read yet waits until it has, instead of a reset', async () => {
    const { a, b, lagging, second, frames } = await resumeOnLaggingInstance('first');
    await settle();
    expect(frames).toEqual([]);
    lagging.flush();
    await settle();
    // Exactly what came after `first`: no reset, no snapshot, nothing twice.
    expect(frames).toMatchObject([{ type: 'event', id: second, data: 4 }]);
    expect(frames).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('a resume waiting for an id this instance never reads (trimmed during a cut, then resynced) goes on at the next event, not reset', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const { a, b, lagging, second, frames } = await resumeOnLaggingInstance('second');
      lagging.drop(2);
      lagging.resync({ id: second, state: { ticks: 7 } });
      const third = await a.publish('tick', 5);
      lagging.flush();
      await vi.advanceTimersByTimeAsync(6_000);
      expect(frames).toMatchObject([{ type: 'event', id: third, data: 5 }]);
      expect(frames).toHaveLength(1);
      expect(b.state).toEqual({ ticks: 12 });
      await Promise.all([a.close(), b.close()]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a resume waits for exactly its own id: not woken by an older one, woken by it, never reset', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const { a, b, lagging, frames } = await resumeOnLaggingInstance('second');
      lagging.flush(1);
      await vi.advanceTimersByTimeAsync(10);
      lagging.flush(1);
      // Past the time a resume waits for an id (5 s): it was reached, so nothing is reset.
      await vi.advanceTimersByTimeAsync(6_000);
      expect(frames).toEqual([]);
      const third = await a.publish('tick', 5);
      lagging.flush();
      await vi.advanceTimersByTimeAsync(10);
      expect(frames).toMatchObject([{ type: 'event', id: third, data: 5 }]);
      expect(frames).toHaveLength(1);
      await Promise.all([a.close(), b.close()]);
    } finally {
      vi.useRealTimers();
    }
  });
});
