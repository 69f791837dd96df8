/**
 * The page's frame time while readings stream in: Chromium (headless,
 * Debian's build via playwright-core) records requestAnimationFrame deltas
 * and the page's own redraw durations while this script posts 10 readings/s
 * to each of the three sensors, with every chart already full.
 *
 *   pnpm --filter sensor-dashboard bench:frames [-- --seconds 10 --rate 10 --transport sse]
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../../../test-support/system.js';
import { buildPage } from '../scripts/build.mjs';
import { startDashboard } from '../src/server.js';
import { benchOptions } from './options.js';

const { seconds, rate, transport, capacity } = benchOptions({ seconds: 10, rate: 10, transport: 'sse', capacity: 120 });
const sensors = ['temperature', 'humidity', 'light'] as const;

const dir = join(tmpdir(), `sensor-dashboard-bench-${process.pid}`);
const { bytes } = await buildPage(dir);
const app = await startDashboard({ port: 0, host: '127.0.0.1', assetsDir: dir, capacity });
const post = (body: unknown) =>
  fetch(`${app.url}/api/readings`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => r.arrayBuffer());

// Fill every chart first, so the redraws measured are of full charts.
for (let i = 0; i < capacity; i++) await post(sensors.map((sensor) => ({ sensor, value: 20 + Math.sin(i / 5) * 5 })));

const chromium = await launchChromium();
try {
  const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${app.url}/?transport=${transport}`);
  await page.locator('#connection[data-status="open"]').waitFor();
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __dashboard: { renderMs: number[] } };
    w.__frames = [];
    w.__dashboard.renderMs.length = 0;
    let last = performance.now();
    const tick = (now: number) => {
      w.__frames.push(now - last);
      last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });

  let i = 0;
  const timer = setInterval(() => {
    i++;
    void post(sensors.map((sensor) => ({ sensor, value: 20 + Math.sin(i / 5) * 5 + Math.random() })));
  }, 1000 / rate);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);

  const { frames, renders, received } = await page.evaluate(() => {
    const w = window as unknown as {
      __frames: number[];
      __dashboard: { renderMs: number[]; received: number };
    };
    return { frames: w.__frames.slice(1), renders: [...w.__dashboard.renderMs], received: w.__dashboard.received };
  });
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
    const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
    return `n=${s.length} mean ${mean.toFixed(2)} ms, p50 ${at(0.5).toFixed(2)}, p95 ${at(0.95).toFixed(2)}, p99 ${at(0.99).toFixed(2)}, max ${(s.at(-1) ?? 0).toFixed(2)}`;
  };
  console.log(
    `Chromium headless, ${transport}, ${rate} readings/s per sensor × 3 sensors for ${seconds} s, ${capacity} points per chart, app.js ${(bytes / 1024).toFixed(1)} KiB`,
  );
  console.log(`readings received by the page: ${received}`);
  console.log(`frame interval (rAF deltas): ${stats(frames)}`);
  console.log(`dashboard redraw (3 charts + tables + stats): ${stats(renders)}`);
} finally {
  await chromium.close();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
