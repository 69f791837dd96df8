import { fileURLToPath } from 'node:url';
import { createHub } from '@boardcast/core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkLedPage } from '../../../test-support/binding-page.js';
import { ENGINES, type Engine, launchEngine } from '../../../test-support/engines.js';
import { buildVitePage, type PageServer, servePage } from '../../../test-support/vite-page.js';
import { contract } from './contract.js';

/** test/page built by Vite, in Chromium, Firefox and WebKit, over both transports. */
describe.each(ENGINES.filter((e) => e.available))('@boardcast/vue in $name', ({ name }) => {
  let engine: Engine;
  let server: PageServer;
  const hub = createHub(contract, { state: { led: { on: false } } });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.publish('led', { on });
    return { on };
  });
  hub.handle('fail', () => {
    throw new Error('secret detail');
  });
  hub.on('error', () => undefined);

  beforeAll(async () => {
    server = await servePage(hub, await buildVitePage(fileURLToPath(new URL('./page/', import.meta.url))));
    engine = await launchEngine(name);
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    await server?.close();
    await hub.close();
  });

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: toggle, a button press, a command error; unmount leaves no connection`, async () => {
      const tab = await engine.newPage();
      try {
        await checkLedPage(tab, server, hub, transport);
      } finally {
        await tab.close();
      }
    }, 120_000);
  }
});
