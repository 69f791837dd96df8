/**
 * Which system parts (Debian packages) the test run may use. The root test
 * command (`scripts/test.mjs`) prints a notice for each missing part; with
 * BOARDCAST_REQUIRE_ALL=1 (set by `.ci/run`) a missing part fails the run
 * instead of skipping its suites.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM_ARGS } from './chromium-args.mjs';

function which(command: string): string | undefined {
  try {
    const out = execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

function find(envName: string, candidates: string[], command: string): string | undefined {
  const fromEnv = process.env[envName];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  const found = which(command);
  if (found) return found;
  if (process.env.BOARDCAST_REQUIRE_ALL === '1') {
    throw new Error(`${command} is required (BOARDCAST_REQUIRE_ALL=1) but was not found`);
  }
  return undefined;
}

export const chromiumPath = find('BOARDCAST_CHROMIUM', ['/usr/bin/chromium'], 'chromium');
export const redisServerPath = find('BOARDCAST_REDIS_SERVER', ['/usr/bin/redis-server'], 'redis-server');
export const pythonPath = find('BOARDCAST_PYTHON', [], 'python3');
export const mosquittoPath = find('BOARDCAST_MOSQUITTO', ['/usr/sbin/mosquitto'], 'mosquitto');
export const nginxPath = find('BOARDCAST_NGINX', ['/usr/sbin/nginx'], 'nginx');

/** Flags Debian's Chromium needs here (closed network, root, no GPU); one list, shared with the .mjs scripts. */
export { CHROMIUM_ARGS };

export interface LaunchedBrowser {
  readonly browser: import('playwright-core').Browser;
  close(): Promise<void>;
}

/**
 * Launch Debian's Chromium through playwright-core. Playwright's `launch()`
 * always starts Chromium with a fresh temporary `--user-data-dir` of its own
 * (and refuses one passed in `args`), which is exactly the fresh profile we
 * need; it is removed when the browser closes. `extraArgs` go after
 * {@link CHROMIUM_ARGS} (e.g. `--host-resolver-rules=…`).
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<LaunchedBrowser> {
  if (!chromiumPath) throw new Error('chromium is not installed (apt-get install chromium)');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}
