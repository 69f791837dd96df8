/**
 * The three browser engines pages are opened in — Chromium, Firefox and
 * WebKit — behind one small page API, for tests that must hold in each.
 * Debian's own browsers, never a download:
 *
 * - Chromium: `/usr/bin/chromium` through playwright-core (as elsewhere);
 * - Firefox: `/usr/bin/firefox-esr` through puppeteer-core over WebDriver BiDi;
 * - WebKit: WebKitGTK's MiniBrowser through `WebKitWebDriver` (classic
 *   WebDriver, spoken here over `fetch`) under `Xvfb`.
 *
 * An engine whose parts are missing is skipped by the tests (scripts/test.mjs
 * names the install command; BOARDCAST_REQUIRE_ALL=1 makes it an error).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './ports.mjs';
import { CHROMIUM_ARGS, chromiumPath } from './system.js';
import { waitFor } from './wait.js';

export type EngineName = 'chromium' | 'firefox' | 'webkit';

export interface EnginePage {
  goto(url: string): Promise<void>;
  /** Evaluate a JavaScript expression in the page (a promise is awaited); the value must be JSON. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Click the element matching a CSS selector. */
  click(selector: string): Promise<void>;
  /**
   * WebKit only: another tab of the same browser (same session, same
   * storage: a `BroadcastChannel` reaches it), for tab-sharing tests.
   */
  newTab?(): Promise<EnginePage>;
  close(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  newPage(): Promise<EnginePage>;
  close(): Promise<void>;
}

const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const XVFB = '/usr/bin/Xvfb';
const MINIBROWSER = ['x86_64-linux-gnu', 'aarch64-linux-gnu']
  .map((arch) => `/usr/lib/${arch}/webkit2gtk-4.1/MiniBrowser`)
  .find((path) => existsSync(path));

/** Which engines this machine has, with the command that installs a missing one. */
export const ENGINES: readonly { name: EngineName; available: boolean; install: string }[] = [
  { name: 'chromium', available: chromiumPath !== undefined, install: 'sudo apt-get install chromium' },
  { name: 'firefox', available: existsSync(FIREFOX), install: 'sudo apt-get install firefox-esr' },
  {
    name: 'webkit',
    available: existsSync(WEBKIT_DRIVER) && existsSync(XVFB) && MINIBROWSER !== undefined,
    install: 'sudo apt-get install webkit2gtk-driver xvfb',
  },
];
for (const engine of ENGINES) {
  if (!engine.available && process.env.BOARDCAST_REQUIRE_ALL === '1') {
    throw new Error(`${engine.name} is required (BOARDCAST_REQUIRE_ALL=1): ${engine.install}`);
  }
}

export async function launchEngine(name: EngineName): Promise<Engine> {
  if (name === 'chromium') return launchChromium();
  if (name === 'firefox') return launchFirefox();
  return launchWebKit();
}

/** The four calls of a page that playwright-core's and puppeteer-core's pages share, to the letter. */
interface DriverPage {
  goto(url: string): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  close(): Promise<void>;
}

/** An {@link Engine} over a playwright-core or puppeteer-core browser. */
function drivenEngine(name: EngineName, browser: { newPage(): Promise<DriverPage>; close(): Promise<void> }): Engine {
  return {
    name,
    async newPage() {
      const page = await browser.newPage();
      return {
        goto: async (url) => void (await page.goto(url)),
        evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
        click: (selector) => page.click(selector),
        close: () => page.close(),
      };
    },
    close: () => browser.close(),
  };
}

async function launchChromium(): Promise<Engine> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  return drivenEngine('chromium', browser);
}

async function launchFirefox(): Promise<Engine> {
  const { default: puppeteer } = await import('puppeteer-core');
  return drivenEngine(
    'firefox',
    await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true }),
  );
}

/** WebKitGTK: one Xvfb display and one WebKitWebDriver; every page is a WebDriver session (a MiniBrowser window). */
async function launchWebKit(): Promise<Engine> {
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const child of children.reverse()) child.kill('SIGTERM');
  };
  try {
    // -displayfd: Xvfb picks a free display number and writes it once it is ready.
    const xvfb = spawn(XVFB, ['-displayfd', '1', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(xvfb);
    const display = await new Promise<string>((resolve, reject) => {
      let out = '';
      xvfb.stdout?.on('data', (chunk: Buffer) => {
        out += chunk;
        if (out.includes('\n')) resolve(`:${out.trim()}`);
      });
      xvfb.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
    });
    const port = await freePort();
    const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
      env: { ...process.env, DISPLAY: display },
      stdio: 'ignore',
    });
    children.push(driver);
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await response.json()) as { value: unknown };
      if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(json.value).slice(0, 300)}`);
      return json.value;
    };
    await waitFor(async () => (await fetch(`${base}/status`)).ok, 'WebKitWebDriver', 20_000);
    return {
      name: 'webkit',
      async newPage() {
        const session = (await call('POST', '/session', {
          capabilities: {
            alwaysMatch: {
              browserName: 'MiniBrowser',
              'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
            },
          },
        })) as { sessionId: string };
        const at = `/session/${session.sessionId}`;
        await call('POST', `${at}/timeouts`, { script: 30_000 });
        // WebDriver talks to one window of the session at a time: each page switches to its own first.
        let active = (await call('GET', `${at}/window`)) as string;
        const page = (handle: string): EnginePage => {
          const use = async () => {
            if (active !== handle) await call('POST', `${at}/window`, { handle });
            active = handle;
          };
          return {
            goto: async (url) => {
              await use();
              await call('POST', `${at}/url`, { url });
            },
            async evaluate<T>(expression: string) {
              await use();
              const result = (await call('POST', `${at}/execute/async`, {
                script:
                  'const done = arguments[arguments.length - 1];' +
                  `Promise.resolve().then(() => (${expression})).then(` +
                  '(value) => done({ value: value === undefined ? null : value }), (error) => done({ error: String(error) }));',
                args: [],
              })) as { value?: T; error?: string };
              if (result.error !== undefined) throw new Error(result.error);
              return result.value as T;
            },
            async click(selector) {
              await use();
              const element = (await call('POST', `${at}/element`, {
                using: 'css selector',
                value: selector,
              })) as Record<string, string>;
              const id = Object.values(element)[0];
              await call('POST', `${at}/element/${id}/click`, {});
            },
            async newTab() {
              const { handle: tab } = (await call('POST', `${at}/window/new`, { type: 'tab' })) as { handle: string };
              return page(tab);
            },
            close: async () => {
              await use().catch(() => undefined);
              const left = (await call('DELETE', `${at}/window`).catch(() => [])) as string[];
              active = '';
              // The last window: end the session (and its MiniBrowser).
              if (left.length === 0) await call('DELETE', at).catch(() => undefined);
            },
          };
        };
        return page(active);
      },
      async close() {
        stop();
      },
    };
  } catch (error) {
    stop();
    throw error;
  }
}
