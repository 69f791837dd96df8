import { afterEach, describe, expect, it } from 'vitest';
import { channelFleet } from '../../../test-support/channel-fleet.js';
import { createWsEndpoint } from '../src/index.js';
import { SubscribeBudget } from '../src/subscribe-budget.js';
import { closeAll, type Frame, fleetSetup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

/** 1,000 channel ids, `board-0` … `board-999`: bob may see only board-1 among them. */
const BOARDS = Array.from({ length: 1000 }, (_, i) => `board-${i}`);
const results = (client: TestClient) => client.frames.filter((f) => f.type === 'result');

describe('subscribe budget (channelsPerSecond / channelBurst)', () => {
  it('a flooding socket gets too_many_requests, then an error and close 1008; a watcher on the same hub loses no event', async () => {
    // rate 1/s: the bucket does not refill in any run, however slow the machine, so the split is exact.
    const env = await fleetSetup({}, { channelsPerSecond: 1, channelBurst: 2000 });
    const alice = await TestClient.open(env.url('user=alice&channels=board-5'));
    await alice.next((f) => f.type === 'snapshot' && f.channel === 'board-5');
    const bob = await TestClient.open(env.url('user=bob&channels='));

    const FRAMES = 500;
    const TICKS = 200;
    for (let i = 0; i < FRAMES; i++) bob.send({ type: 'subscribe', id: i, channels: BOARDS });
    // Alice's board keeps publishing while the flood is handled.
    for (let n = 1; n <= TICKS; n++) {
      await env.hub.channel('board-5').publish('tick', n);
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }

    const closed = await bob.closed;
    expect(closed.code).toBe(1008);
    // Frames 0 and 1 spend the burst; frame 2 is refused; frame 3 brings the refused
    // demand to a second burst: the socket is told why and closed, the rest is never
    // read. Closing drops the admitted frames' work still queued in the hub, so their
    // answers come only if it finished first (frames can arrive in one read or several).
    const answered = results(bob);
    expect(answered.map((r) => r.id).filter((id) => id !== 0 && id !== 1)).toEqual([2]);
    for (const r of answered) if (r.id !== 2) expect(r.ok).toBe(true);
    const refused = answered.find((r) => r.id === 2)!;
    expect(refused.error.code).toBe('too_many_requests');
    expect(refused.error.message).toMatch(/at most 1 channels per second \(bursts of 2000\)/);
    const errors = bob.frames.filter((f) => f.type === 'error');
    expect(errors.map((f) => f.error.code)).toEqual(['too_many_requests']);
    expect(bob.frames.at(-1)).toBe(errors[0]);
    // Only what the two admitted frames named was ever checked: each refused channel at most twice.
    const forbidden = bob.frames.filter((f) => f.type === 'forbidden');
    expect(forbidden.length).toBeLessThanOrEqual(2 * 999);
    expect(forbidden.every((f) => f.channel !== 'board-1' && BOARDS.includes(f.channel))).toBe(true);
    await waitFor(() => env.disconnects.length === 1, 'bob disconnect reported');
    expect(env.disconnects[0]).toMatchObject({ user: 'bob', reason: { code: 1008, cause: 'too_many_requests' } });

    // Every tick reached alice, once and in order.
    await waitFor(() => alice.events().length === TICKS, `alice has ${TICKS} ticks`, 30_000);
    expect(alice.events().map((f: Frame) => f.data)).toEqual(Array.from({ length: TICKS }, (_, i) => i + 1));
    expect(alice.closeInfo).toBeUndefined();
    await env.close();
  });

  it('a refused subscribe adds nothing and leaves the socket open; the budget refills at the rate', async () => {
    const env = await fleetSetup({}, { channelsPerSecond: 10, channelBurst: 1000 });
    const alice = await TestClient.open(env.url('user=alice&channels='));
    const first = BOARDS.slice(0, 400);
    const second = BOARDS.slice(400, 800);
    alice.send({ type: 'subscribe', id: 'a', channels: first });
    alice.send({ type: 'subscribe', id: 'b', channels: second });
    // 500 more (200 left) would take 30 s to earn: refused on any machine.
    alice.send({ type: 'subscribe', id: 'c', channels: BOARDS.map((id) => `${id}-c`).slice(0, 500) });
    expect((await alice.result('a')).data.added).toHaveLength(400);
    expect((await alice.result('b')).data.added).toHaveLength(400);
    const refused = await alice.result('c');
    expect(refused.ok).toBe(false);
    expect(refused.error.code).toBe('too_many_requests');
    expect(alice.frames.some((f) => String(f.channel).endsWith('-c'))).toBe(false);

    // At 10 channels/s, 150 ms buys one channel (at least: a slow machine only waits longer).
    await new Promise((resolve) => setTimeout(resolve, 150));
    alice.send({ type: 'subscribe', id: 'd', channels: ['board-900'] });
    expect((await alice.result('d')).data.added).toEqual(['board-900']);
    await alice.next((f) => f.type === 'snapshot' && f.channel === 'board-900');
    expect(alice.closeInfo).toBeUndefined();
    await env.close();
  });

  it('defaults: a page re-subscribing a full set (1000 channels) twice at once is admitted; unsubscribes cost nothing', async () => {
    const env = await fleetSetup();
    const alice = await TestClient.open(env.url('user=alice&channels='));
    alice.send({ type: 'subscribe', id: 1, channels: BOARDS });
    alice.send({ type: 'unsubscribe', id: 2, channels: BOARDS });
    alice.send({ type: 'subscribe', id: 3, channels: BOARDS });
    expect((await alice.result(1)).data.added).toHaveLength(1000);
    expect((await alice.result(2)).data.removed).toHaveLength(1000);
    expect((await alice.result(3)).data.added).toHaveLength(1000);
    await env.close();
  });

  it('the bucket (default figures, on a fake clock): 2000 at once, then 200 channels per second; refused demand of a second burst is abuse', () => {
    let now = 0;
    const budget = new SubscribeBudget(200, 2000, () => now);
    expect(budget.take(1000)).toBe('ok');
    expect(budget.take(1000)).toBe('ok');
    expect(budget.take(0)).toBe('refused'); // an empty frame still costs one
    expect(budget.waitSeconds(1000)).toBe(5);
    now += 4_999;
    expect(budget.take(1000)).toBe('refused');
    now += 1;
    expect(budget.take(1000)).toBe('ok'); // refilled: the refused demand starts over
    expect(budget.take(999)).toBe('refused');
    expect(budget.take(1001)).toBe('abuse'); // 999 + 1001 refused without waiting
    now += 60_000;
    expect(budget.take(5000)).toBe('ok'); // refills to the burst, no further; a frame costs at most the burst
    expect(budget.take(1)).toBe('refused');
  });

  it('subscribes of one socket run one per turn of the event loop, in order with its unsubscribes', async () => {
    const env = await fleetSetup({}, { channelsPerSecond: 0, maxInFlight: 64 });
    // A spy on the hub connection's add(): the loop turn each one starts in.
    let turn = 0;
    let counting = true;
    const count = () => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turns: number[] = [];
    const hub = env.hub as unknown as { connect: (...args: unknown[]) => { add: (...args: unknown[]) => unknown } };
    const connect = hub.connect.bind(hub);
    hub.connect = (...args) => {
      const connection = connect(...args);
      const add = connection.add.bind(connection);
      connection.add = (...addArgs) => {
        turns.push(turn);
        return add(...addArgs);
      };
      return connection;
    };
    const bob = await TestClient.open(env.url('user=bob&channels='));
    // 40 frames of 13 kB written at once: the server reads several per chunk.
    for (let i = 0; i < 40; i++) bob.send({ type: 'subscribe', id: i, channels: BOARDS });
    bob.send({ type: 'unsubscribe', id: 'u', channels: ['board-1'] });
    await waitFor(() => results(bob).length === 41, 'every frame answered', 30_000);
    counting = false;
    expect(turns).toHaveLength(40);
    for (let i = 1; i < turns.length; i++) expect(turns[i]).toBeGreaterThan(turns[i - 1] as number);
    // Answers in the order sent; the unsubscribe applied after every subscribe.
    expect(results(bob).map((r) => r.id)).toEqual([...Array.from({ length: 40 }, (_, i) => i), 'u']);
    expect((await bob.result('u')).data.removed).toEqual(['board-1']);
    await env.close();
  });

  it('channelsPerSecond: 0 turns the budget off', async () => {
    const env = await fleetSetup({}, { channelsPerSecond: 0 });
    const bob = await TestClient.open(env.url('user=bob&channels='));
    for (let i = 0; i < 10; i++) bob.send({ type: 'subscribe', id: i, channels: BOARDS });
    await waitFor(() => results(bob).length === 10, 'ten answers', 30_000);
    expect(results(bob).every((r) => r.ok)).toBe(true);
    expect(bob.closeInfo).toBeUndefined();
    await env.close();
  });

  it.each([
    [{ channelsPerSecond: -1 }, /channelsPerSecond must be an integer >= 0/],
    [{ channelsPerSecond: 1.5 }, /channelsPerSecond must be an integer >= 0/],
    [{ channelBurst: 0 }, /channelBurst must be an integer >= 1/],
  ])('%o is refused at construction', (options, message) => {
    const { hub } = channelFleet();
    expect(() => createWsEndpoint(hub, options)).toThrow(RangeError);
    expect(() => createWsEndpoint(hub, options)).toThrow(message);
    void hub.close();
  });
});
