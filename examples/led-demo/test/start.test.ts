import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningScript, runScript } from '../../../test-support/run-script.js';
import { waitFor } from '../../../test-support/wait.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the start command (`pnpm demo`)', () => {
  let server: RunningScript | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
  });

  it('runs the demo from the sources: page, event stream and a command', async () => {
    // Exactly what `pnpm --filter led-demo start` runs (no package build), on a free port.
    const demo = runScript(root, ['scripts/start.mjs', '--', '--port', '0', '--host', '127.0.0.1']);
    server = demo;
    await waitFor(
      () => /Open http:\/\/localhost:\d+\//.test(demo.output()) || demo.child.exitCode !== null,
      'the demo to listen',
      60_000,
    );
    const url = demo.output().match(/Open (http:\/\/localhost:\d+\/)/)?.[1];
    expect(url, demo.output()).toBeDefined();
    const base = url!.replace('localhost', '127.0.0.1');

    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('app.js');
    expect((await fetch(`${base}app.js`)).status).toBe(200);

    const stream = await fetch(`${base}api/events`);
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain('"led":{"on":false}');

    const toggled = await fetch(`${base}api/commands/led`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'toggle' }),
    });
    expect(await toggled.json()).toEqual({ on: true });
  });
});
