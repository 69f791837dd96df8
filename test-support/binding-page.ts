/**
 * The check both UI bindings' test pages (@boardcast/react, @boardcast/vue:
 * test/page/main.ts, same ids) must pass in every engine: the page opens one
 * connection however the framework mounts (React StrictMode mounts twice),
 * shows the snapshot, toggles the LED, shows a button press and a command's
 * error; unmounting leaves no connection on the server, mounting again
 * opens one, and closing the tab leaves none. {@link describeBindingPage}
 * runs it for a package in every engine present, over both transports.
 */
import { fileURLToPath } from 'node:url';
import { createHub } from '@boardcast/core';
import { beforeAll, describe, it } from 'vitest';
import { ENGINES, type EnginePage, launchEngine } from './engines.js';
import { contract } from './led-contract.js';
import { suiteBrowser } from './suite-browser.js';
import { buildVitePage, type PageServer, servePage } from './vite-page.js';
import { waitFor } from './wait.js';

interface LedHub {
  readonly state: { readonly led: { readonly on: boolean } };
  publish(event: 'button', data: { pressed: boolean }): unknown;
  setState(state: { led: { on: boolean } }): unknown;
}

/** Twice waitFor's default: a page in a loaded engine is slow. */
const until = (check: () => Promise<boolean>, what: string) => waitFor(check, what, 20_000);

export async function checkLedPage(
  tab: EnginePage,
  server: PageServer,
  hub: LedHub,
  transport: 'sse' | 'ws',
): Promise<void> {
  hub.setState({ led: { on: false } });
  const text = (id: string) =>
    tab.evaluate<string>(`document.getElementById(${JSON.stringify(id)})?.textContent ?? ''`);
  const before = server.opened();
  await tab.goto(`${server.origin}/?transport=${transport}`);
  await until(async () => (await text('status')) === 'open', `${transport}: open`);
  await until(async () => (await text('led')) === 'off', `${transport}: the snapshot`);
  // One connection for every hook/composable of the page; React StrictMode's second mount keeps it (the lease).
  if (server.opened() - before !== 1 || server.connections() !== 1)
    throw new Error(`${transport}: ${server.opened() - before} connections opened, ${server.connections()} open`);
  await tab.click('#toggle');
  await until(async () => (await text('led')) === 'on', `${transport}: the LED on`);
  if (!hub.state.led.on) throw new Error('the hub did not switch the LED');
  hub.publish('button', { pressed: true });
  hub.publish('button', { pressed: false });
  await until(
    async () =>
      (await tab.evaluate<string>(
        `[...document.querySelectorAll('#presses li')].map((li) => li.textContent).join()`,
      )) === 'down,up',
    `${transport}: the button presses`,
  );
  await tab.click('#fail');
  await until(async () => (await text('error')) === 'handler_failed', `${transport}: the command error`);
  await tab.click('#unmount');
  // graceMs is 200 on the page: then nothing may stay open.
  await until(async () => server.connections() === 0, `${transport}: no connection after unmount`);
  await tab.click('#unmount');
  await until(async () => (await text('led')) === 'on', `${transport}: mounted again, a new snapshot`);
  if (server.connections() !== 1)
    throw new Error(`${transport}: ${server.connections()} connections after mounting again`);
}

/** The LED hub the pages talk to: `led` switches it, `fail` throws (the page shows `handler_failed`). */
export function ledHub() {
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
  return hub;
}

/** `pkg`'s test page (`page`: its folder, built by Vite as a user's app is) in every engine present, over both transports. */
export function describeBindingPage(pkg: string, page: URL): void {
  describe.each(ENGINES.filter((e) => e.available))(`${pkg} in $name`, ({ name }) => {
    let server: PageServer;
    const hub = ledHub();

    beforeAll(async () => {
      server = await servePage(hub, await buildVitePage(fileURLToPath(page)));
    }, 120_000);
    const engine = suiteBrowser(
      () => launchEngine(name),
      () => server?.close(),
      () => hub.close(),
    );

    for (const transport of ['sse', 'ws'] as const) {
      it(`${transport}: one connection, toggle, a button press, a command error; unmount leaves none, a closed tab none`, async () => {
        const tab = await engine().newPage();
        try {
          await checkLedPage(tab, server, hub, transport);
        } finally {
          await tab.close();
        }
        await until(async () => server.connections() === 0, `${transport}: no connection after the tab closed`);
      }, 120_000);
    }
  });
}
