import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../../../test-support/redis-server.js';
import { redisServerPath } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { waitFor } from './helpers.js';

/** Two instances of the demo sharing one Redis: A drives the (simulated) board, B only serves pages. */
describe.skipIf(!redisServerPath)('led-demo: two instances on one Redis', () => {
  let redis: RedisProcess;
  let a: Demo;
  let b: Demo;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startDemo({ port: 0, host: '127.0.0.1', log: false, redis: redis.url, timeIntervalMs: 200 });
    b = await startDemo({ port: 0, host: '127.0.0.1', log: false, redis: redis.url, board: { kind: 'none' } });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  const url = (demo: Demo, path: string) => `http://127.0.0.1:${demo.port}${path}`;
  const state = async (demo: Demo) => (await fetch(url(demo, '/api/state'))).json();

  it('a command sent to B runs on A’s board and both snapshots agree', async () => {
    const res = await fetch(url(b, '/api/commands/led'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ state: 'on' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ on: true });
    expect(a.board?.kind).toBe('simulated');
    await waitFor(async () => (await state(b)).led.on === true, 'B to see the LED on');
    expect((await state(a)).led.on).toBe(true);
  });

  it('one stream of events with the same ids on both instances', async () => {
    const read = async (demo: Demo) => {
      const res = await fetch(url(demo, '/api/events?events=time'));
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while ((text.match(/event: time/g) ?? []).length < 3) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      return [...text.matchAll(/id: (\S+)\nevent: time/g)].map((m) => m[1]);
    };
    const [idsA, idsB] = await Promise.all([read(a), read(b)]);
    // The two streams start a few ms apart, so compare the events both saw.
    const common = idsA.filter((id) => idsB.includes(id));
    expect(common.length).toBeGreaterThanOrEqual(2);
    expect(idsB.filter((id) => common.includes(id))).toEqual(common);
  });
});
