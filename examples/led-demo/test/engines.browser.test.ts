import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, type Engine, launchEngine } from '../../../test-support/engines.js';
import { type Demo, startDemo } from '../src/server.js';
import { buildPageFromSources, waitFor } from './helpers.js';

/**
 * The LED demo's page in Chromium, Firefox and WebKit (makers open it on
 * iPhones and in Firefox as often as in Chrome): it connects, switches the
 * LED, and shows a button press, over SSE and WebSocket.
 */
describe.each(ENGINES.filter((e) => e.available))('led-demo page in $name', ({ name }) => {
  let engine: Engine;

  beforeAll(async () => {
    await buildPageFromSources();
    engine = await launchEngine(name);
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: connects, switches the LED, shows a button press`, async () => {
      const demo: Demo = await startDemo({ port: 0, host: '127.0.0.1', log: false, transport });
      const tab = await engine.newPage();
      try {
        const text = (id: string) =>
          tab.evaluate<string>(`document.getElementById(${JSON.stringify(id)})?.textContent ?? ''`);
        await tab.goto(`http://127.0.0.1:${demo.port}/?transport=${transport}`);
        await waitFor(async () => (await text('conn-status')) === 'open', 'open', 20_000);
        await waitFor(async () => (await text('led-state')) === 'off', 'the LED off', 20_000);
        await tab.click('#led-on');
        await waitFor(async () => (await text('led-state')) === 'on', 'the LED on', 20_000);
        await tab.click('#led-toggle');
        await waitFor(async () => (await text('led-state')) === 'off', 'the LED off again', 20_000);
        const board = demo.board as import('@boardcast/board-adapter-gpio').SimulatedBoard;
        const pressed = () => tab.evaluate<string>(`document.querySelector('#input-0 td.active')?.textContent ?? ''`);
        board.press(0);
        await waitFor(async () => (await pressed()) === 'pressed', 'pressed', 20_000);
        board.release(0);
        await waitFor(async () => (await pressed()) === 'released', 'released', 20_000);
        expect(await text('conn-status')).toBe('open');
      } finally {
        await tab.close();
        await demo.close();
      }
    }, 120_000);
  }
});
