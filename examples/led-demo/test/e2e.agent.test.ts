import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type LaunchedBrowser, launchChromium, pythonPath } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { artifactsDir, buildPageFromSources, waitFor } from './helpers.js';

const AGENT = fileURLToPath(new URL('../../../packages/board-adapter-gpio/agent/boardcast_agent.py', import.meta.url));
const TOKEN = 'e2e-secret';

/** The real agent file under CPython with its simulated backend, driven over stdin. */
function startAgent(port: number) {
  const dir = mkdtempSync(join(tmpdir(), 'led-demo-agent-'));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      id: 'esp32',
      url: `ws://127.0.0.1:${port}/board`,
      token: TOKEN,
      backend: 'sim',
      stdin_control: true,
      pins: [
        { pin: 5, mode: 'output', name: 'led' },
        { pin: 0, mode: 'input_pullup', name: 'button' },
        { pin: 4, mode: 'input_pulldown', name: 'input' },
      ],
      debounce_ms: 5,
      poll_ms: 5,
      backoff_min_ms: 100,
      backoff_max_ms: 500,
    }),
  );
  const child: ChildProcessWithoutNullStreams = spawn(pythonPath as string, ['-u', AGENT, '--config', config]);
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output,
    send: (line: string) => child.stdin.write(`${line}\n`),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function expectText(page: Page, selector: string, expected: string, timeout = 5000) {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel as string)?.textContent === want,
    [selector, expected],
    { timeout },
  );
}

describe.skipIf(!chromiumPath || !pythonPath)('led-demo with a real board agent (python3, simulated backend)', () => {
  let launched: LaunchedBrowser;
  let demo: Demo;
  let agent: ReturnType<typeof startAgent>;
  const pages: Record<'sse' | 'ws', Page> = {} as Record<'sse' | 'ws', Page>;

  beforeAll(async () => {
    await buildPageFromSources();
    demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      log: false,
      board: { kind: 'remote', token: TOKEN, id: 'esp32', heartbeatMs: 1000 },
    });
    agent = startAgent(demo.port);
    await waitFor(() => demo.board?.status === 'online', `the agent to connect (${agent.output.join('')})`, 15_000);
    launched = await launchChromium();
    for (const transport of ['sse', 'ws'] as const) {
      const page = await (await launched.browser.newContext()).newPage();
      await page.goto(`http://127.0.0.1:${demo.port}/?transport=${transport}`);
      await expectText(page, '#conn-status', 'open');
      pages[transport] = page;
    }
  });

  afterAll(async () => {
    await launched?.close();
    await agent?.kill();
    await demo?.close();
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
