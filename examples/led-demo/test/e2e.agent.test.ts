import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_PINS, startSimAgent } from '../../../packages/board-adapter-gpio/test/helpers.js';
import { bundleForNode } from '../../../packages/board-adapter-gpio/test/node-bundle.js';
import { keepForSuite } from '../../../test-support/suite-teardown.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, pythonPath } from '../../../test-support/system.js';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import type { Demo } from '../src/server.js';
import { artifactsDir, buildPageFromSources, openPage, waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

const TOKEN = 'e2e-secret';

/** The real agent file under CPython with its simulated backend, driven over stdin; a third input on pin 4. */
function startAgent(port: number, id = 'esp32') {
  const pins = [...AGENT_PINS, { pin: 4, mode: 'input_pulldown', name: 'input' }];
  return startSimAgent(port, id, TOKEN, { pins, backoff_max_ms: 500 });
}

async function expectText(page: Page, selector: string, expected: string, timeout = 5000) {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel as string)?.textContent === want,
    [selector, expected],
    { timeout },
  );
}

describe.skipIf(!chromiumPath || !pythonPath)('led-demo with a real board agent (python3, simulated backend)', () => {
  const keep = keepForSuite();
  let launched: LaunchedBrowser;
  let demo: Demo;
  let agent: ReturnType<typeof startAgent>;
  const pages: Record<'sse' | 'ws', Page> = {} as Record<'sse' | 'ws', Page>;

  beforeAll(async () => {
    await buildPageFromSources();
    demo = keep(await startTestDemo({ board: { kind: 'remote', token: TOKEN, id: 'esp32', heartbeatMs: 1000 } }));
    agent = keep(startAgent(demo.port), (started) => started.kill());
    await waitFor(() => demo.board?.status === 'online', `the agent to connect (${agent.lines.join('\n')})`, 15_000);
    launched = keep(await launchChromium());
    for (const transport of ['sse', 'ws'] as const) {
      const page = await openPage(launched.browser, `http://127.0.0.1:${demo.port}/?transport=${transport}`);
      await expectText(page, '#conn-status', 'open');
      pages[transport] = page;
    }
  });

  it('shows the remote board online and hides the virtual board', async () => {
    for (const page of Object.values(pages)) {
      await expectText(page, '#board-status', 'online');
      expect(await page.locator('#virtual-board').isHidden()).toBe(true);
    }
  });

  it('a click switches the agent’s LED and the confirmed state reaches both transports', async () => {
    await pages.sse.getByRole('button', { name: 'LED on' }).click();
    await expectText(pages.sse, '#led-state', 'on');
    await expectText(pages.ws, '#led-state', 'on');
    expect(await demo.board?.digitalRead(5)).toBe(1); // read back from the agent
    await pages.ws.getByRole('button', { name: 'LED off' }).click();
    await expectText(pages.sse, '#led-state', 'off');
    expect(await demo.board?.digitalRead(5)).toBe(0);
  });

  it('a button pressed on the agent shows "pressed" in both pages, then "released"', async () => {
    agent.send('press 0');
    await expectText(pages.sse, '#input-0 td.active', 'pressed', 2000);
    await expectText(pages.ws, '#input-0 td.active', 'pressed', 2000);
    await pages.ws.screenshot({ path: `${artifactsDir}agent-pressed.png` });
    agent.send('release 0');
    await expectText(pages.sse, '#input-0 td.active', 'released', 2000);
    await expectText(pages.ws, '#input-0 td.active', 'released', 2000);
  });

  it('the agent killed → board offline on the page and commands fail with board_offline', async () => {
    await agent.kill();
    await expectText(pages.sse, '#board-status', 'offline', 5000);
    await expectText(pages.ws, '#board-status', 'offline', 5000);
    await pages.sse.getByRole('button', { name: 'Toggle' }).click();
    await pages.sse.waitForSelector('#command-error:not([hidden])');
    expect(await pages.sse.locator('#command-error').textContent()).toContain('board_offline');
    await pages.sse.screenshot({ path: `${artifactsDir}agent-offline.png` });
  });
});

describe.skipIf(!pythonPath)('led-demo process with a board attached (python3 agent)', () => {
  it('SIGTERM: the demo closes the board socket with a close frame and exits 0', async () => {
    // The CLI as a user runs it, bundled from sources (no package build needed).
    const dir = mkdtempSync(join(tmpdir(), 'led-demo-cli-'));
    const cli = join(dir, 'cli.mjs');
    await bundleForNode(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), cli, 'error');
    // The leading `--` is what `pnpm --filter led-demo start -- …` hands the CLI.
    const demo = spawn(process.execPath, [
      cli,
      '--',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--board',
      'remote',
      '--token',
      TOKEN,
    ]);
    const output: string[] = [];
    demo.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    demo.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    let agent: ReturnType<typeof startAgent> | undefined;
    try {
      const port = Number(
        (await waitFor(() => /localhost:(\d+)/.exec(output.join('')), `the demo to listen (${output.join('')})`))[1],
      );
      agent = startAgent(port);
      await waitFor(
        () => output.join('').includes('board connect    esp32'),
        `the agent to connect (${output.join('')})`,
        15_000,
      );
      const started = performance.now();
      demo.kill('SIGTERM');
      const code = await exited;
      const took = performance.now() - started;
      console.log(`SIGTERM → exit with a board attached: ${Math.round(took)} ms`);
      // How long it took is printed, not asserted (CI shares its machine);
      // that a board which never answers the close handshake is cut after
      // closeTimeoutMs is remote-link.test.ts's 'shutdown' test.
      expect(code).toBe(0);
      // The agent saw the server go at once, by a close frame (1001), not a silent socket.
      const line = await waitFor(
        () => /disconnected.*/.exec(agent?.lines.join('\n') ?? '')?.[0],
        `the agent to notice (${agent.lines.join('\n')})`,
      );
      const closeCode = /closed \((\d+)\)/.exec(line)?.[1];
      if (closeCode !== undefined) expect(closeCode).toBe('1001');
    } finally {
      if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
      await agent?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!chromiumPath || !pythonPath)('led-demo: a command that arrives late (link stalled, no FIN)', () => {
  it('the click answers timeout and afterwards the page shows the level the board really has', async () => {
    await buildPageFromSources();
    // Heartbeat 7 s: a 6 s stall outlasts the 5 s command timeout, and even
    // with up to one period of quiet before it stays under the 14 s offline limit.
    const demo = await startTestDemo({ board: { kind: 'remote', token: TOKEN, id: 'esp32', heartbeatMs: 7000 } });
    const proxy = await startTcpProxy(demo.port);
    const agent = startAgent(proxy.port);
    const launched = await launchChromium();
    try {
      await waitFor(() => demo.board?.status === 'online', `the agent to connect (${agent.lines.join('\n')})`, 15_000);
      const page = await openPage(launched.browser, `http://127.0.0.1:${demo.port}/?transport=sse`);
      await expectText(page, '#conn-status', 'open');
      await expectText(page, '#led-state', 'off');
      proxy.stall();
      const stalledAt = performance.now();
      await page.getByRole('button', { name: 'LED on' }).click();
      await page.waitForSelector('#command-error:not([hidden])', { timeout: 10_000 });
      const errorAfter = performance.now() - stalledAt;
      const errorText = await page.locator('#command-error').textContent();
      // The command gives up at its 5 s timeout, while the link is still stalled.
      expect(errorText, `after ${Math.round(errorAfter)} ms: ${errorText}`).toContain('(timeout)');
      await waitFor(() => performance.now() - stalledAt > 6000, 'a 6 s stall', 10_000);
      proxy.resume();
      // Whatever the agent did with the late write (dropped it past its
      // deadline, or an older agent executing it), the page ends up showing
      // the board's level, and the board never went offline.
      const level = await waitFor(async () => {
        const read = await demo.board?.digitalRead(5);
        return read === undefined ? undefined : { on: read === 1 };
      }, 'the board to answer after the stall');
      await expectText(page, '#led-state', level.on ? 'on' : 'off', 8000);
      await expectText(page, '#board-status', 'online');
      const final = await demo.board?.digitalRead(5);
      expect(final === 1 ? 'on' : 'off').toBe(await page.locator('#led-state').textContent());
    } finally {
      await launched.close();
      await agent.kill();
      await proxy.close();
      await demo.close();
    }
  });
});
