/**
 * The check both UI bindings' test pages (@boardcast/react, @boardcast/vue:
 * test/page/main.ts, same ids) must pass in every engine: the page opens,
 * shows the snapshot, toggles the LED, shows a button press and a command's
 * error, and unmounting leaves no connection on the server.
 */
import type { EnginePage } from './engines.js';
import type { PageServer } from './vite-page.js';

interface LedHub {
  readonly state: { readonly led: { readonly on: boolean } };
  publish(event: 'button', data: { pressed: boolean }): unknown;
  setState(state: { led: { on: boolean } }): unknown;
}

async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function checkLedPage(
  tab: EnginePage,
  server: PageServer,
  hub: LedHub,
  transport: 'sse' | 'ws',
): Promise<void> {
  hub.setState({ led: { on: false } });
  const text = (id: string) =>
    tab.evaluate<string>(`document.getElementById(${JSON.stringify(id)})?.textContent ?? ''`);
  await tab.goto(`${server.origin}/?transport=${transport}`);
  await until(async () => (await text('status')) === 'open', `${transport}: open`);
  await until(async () => (await text('led')) === 'off', `${transport}: the snapshot`);
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
  await until(async () => server.connections() === 0, `${transport}: no connection after unmount`);
}
