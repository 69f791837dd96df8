import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedis } from '../../../test-support/redis-server.js';
import { keepForSuite } from '../../../test-support/suite-teardown.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, redisServerPath } from '../../../test-support/system.js';
import type { Demo } from '../src/server.js';
import { artifactsDir, buildPageFromSources, expectText, openPage, waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

/** Two instances of the demo sharing one Redis: A drives the (simulated) board, B only serves pages. */
describe.skipIf(!redisServerPath)('led-demo: two instances on one Redis', () => {
  const keep = keepForSuite();
  let redis: RedisProcess;
  let a: Demo;
  let b: Demo;

  beforeAll(async () => {
    redis = keep(await startRedis(), (started) => started.stop());
    a = keep(await startTestDemo({ redis: redis.url, timeIntervalMs: 200 }));
    b = keep(await startTestDemo({ redis: redis.url, board: { kind: 'none' } }));
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

/**
 * Redis goes away under a page-only instance: its pages stay connected to
 * it (`open`), so only the server can say that what they show is stale.
 */
describe.skipIf(!redisServerPath || !chromiumPath)('led-demo: a page-only instance whose Redis goes away', () => {
  const keep = keepForSuite();
  let redis: RedisProcess;
  let b: Demo;
  let launched: LaunchedBrowser;
  const pages: Record<'sse' | 'ws', Page> = {} as Record<'sse' | 'ws', Page>;

  beforeAll(async () => {
    await buildPageFromSources();
    redis = keep(await startRedis({ persistent: true }), (started) => started.stop());
    // A, the instance with the board: only B's pages are looked at.
    keep(await startTestDemo({ redis: redis.url }));
    b = keep(await startTestDemo({ redis: redis.url, board: { kind: 'none' } }));
    launched = keep(await launchChromium());
    for (const transport of ['sse', 'ws'] as const) {
      const page = await openPage(launched.browser, `http://127.0.0.1:${b.port}/?transport=${transport}`);
      pages[transport] = page;
    }
  });

  it('its pages show "server degraded", commands fail at once with bus_unavailable, and all clears when Redis is back', async () => {
    for (const page of Object.values(pages)) {
      await expectText(page, '#conn-status', 'open');
      await expectText(page, '#server-status', 'ok');
      expect(await page.locator('#server-degraded').isHidden()).toBe(true);
      await expectText(page, '#led-state', 'off');
    }

    await redis.kill();
    for (const page of Object.values(pages)) {
      await expectText(page, '#server-status', 'degraded');
      expect(await page.locator('#server-degraded').isVisible()).toBe(true);
      // The stream to B is still up: the connection alone would say all is well.
      expect(await page.locator('#conn-status').textContent()).toBe('open');
    }
    // B cannot reach A's board: refused with the bus's code, not left to time out (that reads "(timeout)").
    await pages.sse.getByRole('button', { name: 'LED on' }).click();
    await expectText(
      pages.sse,
      '#command-error',
      'The LED did not switch: command "led" refused: the server cannot reach its bus (bus_unavailable)',
    );
    const res = await fetch(`http://127.0.0.1:${b.port}/api/commands/led`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ state: 'on' }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bus_unavailable');
    await pages.sse.screenshot({ path: `${artifactsDir}redis-degraded.png` });

    await redis.start();
    for (const page of Object.values(pages)) {
      await expectText(page, '#server-status', 'ok', 15_000);
      expect(await page.locator('#server-degraded').isHidden()).toBe(true);
    }
    await pages.ws.getByRole('button', { name: 'LED on' }).click();
    await expectText(pages.ws, '#led-state', 'on');
    await expectText(pages.sse, '#led-state', 'on');
  });
});
