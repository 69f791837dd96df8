#!/usr/bin/env node
import { performance } from 'node:perf_hooks';
// Measures, in real Chromium, for SSE and WS:
//   edge→DOM   a simulated input edge on the server until the page's table shows it
//   click→LED  a click on "Toggle" until the LED event has come back and is shown
// p50/p99/max over N repetitions (default 200). Run after `pnpm build`:
//   pnpm --filter led-demo latency [-- --runs 500]
// Both clocks are performance.timeOrigin + performance.now() (high-resolution
// wall clock) on the same machine, so edge→DOM compares Node's and the page's.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../../test-support/chromium-args.mjs';
import { buildPage, buildServer } from './build.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string' }, chromium: { type: 'string' } } });
const runs = Number(values.runs ?? 200);
const executablePath = values.chromium ?? process.env.BOARDCAST_CHROMIUM ?? '/usr/bin/chromium';

await Promise.all([buildPage(), buildServer()]);
const { startDemo } = await import('../dist/server.js');

const now = () => performance.timeOrigin + performance.now();
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const summary = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: +pct(s, 50).toFixed(2), p99: +pct(s, 99).toFixed(2), max: +s.at(-1).toFixed(2) };
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [...CHROMIUM_ARGS],
});
const results = {};
try {
  for (const transport of ['sse', 'ws']) {
    const demo = await startDemo({ port: 0, host: '127.0.0.1', log: false, transport, timeIntervalMs: 60_000 });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${demo.port}/?transport=${transport}`);
    await page.waitForFunction(() => document.querySelector('#conn-status')?.textContent === 'open');
    await page.waitForFunction(() => document.querySelector('#input-0 td.active')?.textContent === 'released');

    // edge → DOM
    const edge = [];
    for (let i = 0; i < runs; i++) {
      const before = await page.evaluate(() => window.__demo.rendered.length);
      const pressed = i % 2 === 0;
      const t0 = now();
      if (pressed) demo.board.press(0);
      else demo.board.release(0);
      const handle = await page.waitForFunction(
        (n) => window.__demo.rendered.length > n && window.__demo.rendered.at(-1),
        before,
      );
      const entry = await handle.jsonValue();
      edge.push(entry.at - t0);
    }

    // click → LED event back in the DOM (measured inside the page)
    const click = await page.evaluate(async (n) => {
      const out = [];
      const state = document.querySelector('#led-state');
      const button = document.querySelector('#led-toggle');
      for (let i = 0; i < n; i++) {
        const before = state.textContent;
        const changed = new Promise((resolve) => {
          const observer = new MutationObserver(() => {
            if (state.textContent !== before) {
              observer.disconnect();
              resolve(performance.now());
            }
          });
          observer.observe(state, { childList: true, characterData: true, subtree: true });
        });
        const t0 = performance.now();
        button.click();
        out.push((await changed) - t0);
      }
      return out;
    }, runs);

    const edgeStats = summary(edge);
    results[transport] = {
      'edge→DOM': edgeStats,
      'click→LED': summary(click),
    };
    await page.close();
    await demo.close();
  }
} finally {
  await browser.close();
}
console.log(`LED demo latency on loopback, ${runs} runs each (ms):`);
for (const [transport, rows] of Object.entries(results)) {
  for (const [name, s] of Object.entries(rows)) {
    console.log(
      `${transport.padEnd(4)} ${name.padEnd(34)} p50 ${String(s.p50).padStart(7)}  p99 ${String(s.p99).padStart(7)}  max ${String(s.max).padStart(7)}  (n=${s.n})`,
    );
  }
}
