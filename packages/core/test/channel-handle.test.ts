import { describe, expect, it } from 'vitest';
import { type AccessPolicy, createHub, DIRECTORY, MemoryBus } from '../src/index.js';
import { frameSink, tickContract } from './fixtures.js';

// `hub.channel(id)`: what a program does with one channel, each call
// reaching that channel and no other.

const initial = { ticks: 0 };
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A policy that lets everyone see everything and notes whom it was asked about (`asked`). */
function recordingAccess(): { asked: string[]; access: AccessPolicy } {
  const asked: string[] = [];
  const access: AccessPolicy = {
    canSee: (principal) => {
      asked.push(String(principal));
      return true;
    },
  };
  return { asked, access };
}

describe('a channel handle', () => {
  it("sets, encodes and reads its own channel's state; a channel never used has the initial state", async () => {
    const hub = createHub(tickContract, { state: initial });
    const viewer = frameSink();
    hub.connect({ channels: ['one'] }, viewer.sink);
    await turn();
    await hub.channel('one').setState({ ticks: 5 });
    expect(hub.channel('one').state).toEqual({ ticks: 5 });
    expect(hub.state).toEqual(initial);
    expect(hub.channel('never').state).toEqual(initial);
    const body = hub.channel('one').snapshotBody();
    expect(JSON.parse(body.json)).toEqual({ ticks: 5 });
    expect(viewer.frames.filter((f) => f.channel === 'one').at(-1)).toMatchObject({ data: { ticks: 5 } });
    await hub.close();
  });

  it('its snapshot body is encoded once per state: the same object until the state changes', async () => {
    const hub = createHub(tickContract, { state: initial });
    const one = hub.channel('one');
    const first = one.snapshotBody();
    expect(one.snapshotBody()).toBe(first);
    await one.publish('tick', 1);
    const second = one.snapshotBody();
    expect(second).not.toBe(first);
    expect(JSON.parse(second.json)).toEqual({ ticks: 1 });
    expect(one.snapshotBody()).toBe(second);
    await hub.close();
  });

  it('its entry is what was described, and remove() takes it out and tells directory viewers', async () => {
    const hub = createHub(tickContract, { state: initial });
    const viewer = frameSink();
    const changes: unknown[] = [];
    hub.on('directory', (change) => changes.push(change));
    hub.connect({ channels: [DIRECTORY] }, viewer.sink);
    await turn();
    expect(hub.channel('one').entry).toBeUndefined();
    await hub.channel('one').describe({ name: 'first', kind: 'esp32' });
    expect(hub.channel('one').entry).toEqual({ id: 'one', name: 'first', kind: 'esp32' });
    await hub.channel('one').remove();
    expect(hub.channel('one').entry).toBeUndefined();
    expect(hub.directory.has('one')).toBe(false);
    expect(changes.at(-1)).toEqual({ channel: 'one', removed: true });
    expect(viewer.frames.at(-1)).toMatchObject({ channel: DIRECTORY, data: { id: 'one', removed: true } });
    await hub.close();
  });

  it('remove() of a channel that was never described still starts its state over and ends it', async () => {
    const hub = createHub(tickContract, { state: initial });
    await hub.channel('one').publish('tick', 4);
    await hub.channel('one').remove();
    expect(hub.hasChannel('one')).toBe(false);
    expect(hub.channel('one').state).toEqual(initial);
    await hub.close();
  });

  it('seen() moves lastSeen only once the stored one is lastSeenIntervalMs old (default 30 s)', async () => {
    for (const [interval, option] of [
      [30_000, undefined],
      [5_000, 5_000],
    ] as const) {
      const hub = createHub(tickContract, { state: initial, lastSeenIntervalMs: option });
      const changes: unknown[] = [];
      hub.on('directory', (change) => changes.push(change));
      const board = hub.channel('board');
      await board.seen(1_000);
      await board.seen(1_000 + interval - 1);
      expect(board.entry?.lastSeen).toBe(1_000);
      await board.seen(1_000 + interval);
      expect(board.entry?.lastSeen).toBe(1_000 + interval);
      expect(changes).toHaveLength(2);
      await hub.close();
    }
  });

  it('a directory change from the bus that names no channel, or removes one never there, changes nothing', async () => {
    const bus = new MemoryBus();
    const hub = createHub(tickContract, { state: initial, bus });
    const changes: unknown[] = [];
    hub.on('directory', (change) => changes.push(change));
    for (const data of [{ set: { name: 'x' } }, { channel: 7, set: {} }, null, { channel: 'ghost', removed: true }]) {
      bus.publish('~directory', data, JSON.stringify(data), DIRECTORY);
    }
    expect(changes).toEqual([]);
    expect(hub.directory.size).toBe(0);
    expect(hub.hasChannel('ghost')).toBe(false);
    // A well-formed change after them still applies.
    bus.publish('~directory', { channel: 'real', set: { name: 'r' } }, '', DIRECTORY);
    expect(changes).toEqual([{ channel: 'real', set: { name: 'r' } }]);
    expect(hub.directory.get('real')).toEqual({ id: 'real', name: 'r' });
    await hub.close();
  });
});

describe('invalidateAccess', () => {
  it('a bus that refuses it rejects the call and reports it as invalidateAccess', async () => {
    const bus = new MemoryBus();
    const failure = new Error('bus down');
    bus.publish = () => {
      throw failure;
    };
    const hub = createHub(tickContract, { state: initial, bus });
    const errors: [unknown, string][] = [];
    hub.on('error', (error, where) => errors.push([error, where]));
    await expect(hub.invalidateAccess()).rejects.toBe(failure);
    expect(errors).toEqual([[failure, 'invalidateAccess']]);
    await hub.close();
  });

  it('an access change from the bus with no data (another version, a hand-written entry) rechecks everyone', async () => {
    const { asked, access } = recordingAccess();
    const bus = new MemoryBus();
    const hub = createHub(tickContract, { state: initial, access, bus });
    hub.connect({ channels: ['one'], principal: 'bob' }, frameSink().sink);
    await turn();
    asked.length = 0;
    expect(() => bus.publish('~access', null, 'null', '~access')).not.toThrow();
    await turn();
    expect(asked).toContain('bob');
    await hub.close();
  });

  it("with a principal id rechecks that viewer's channels only; without one, everyone's", async () => {
    const { asked, access } = recordingAccess();
    const hub = createHub(tickContract, { state: initial, access });
    hub.connect({ channels: ['one'], principal: 'bob' }, frameSink().sink);
    hub.connect({ channels: ['one'], principal: 'alice' }, frameSink().sink);
    await turn();
    asked.length = 0;
    await hub.invalidateAccess('bob');
    await turn();
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(new Set(['bob']));
    asked.length = 0;
    await hub.invalidateAccess();
    await turn();
    expect(new Set(asked)).toEqual(new Set(['bob', 'alice']));
    await hub.close();
  });
});
