import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import { buildPage } from '../scripts/build.mjs';
import { type DashboardOptions, type RunningDashboard, startDashboard } from '../src/server.js';

export { waitFor };

/** The page built with esbuild into a temp dir (from source, no `pnpm build` needed). */
export async function buildPageToTemp(): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'sensor-dashboard-page-'));
  await buildPage(dir, { minify: false });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** For the tests of the describe it is called in: a temp dir made before them and removed after them. */
export function tempDirForSuite(prefix: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(() => {
    path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (path) rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      if (!path) throw new Error('tempDirForSuite: the dir is made in beforeAll');
      return path;
    },
  };
}

export function start(options: Partial<DashboardOptions> & { assetsDir?: string } = {}): Promise<RunningDashboard> {
  return startDashboard({ port: 0, host: '127.0.0.1', assetsDir: options.assetsDir ?? tmpdir(), ...options });
}

export function postReadings(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
): Promise<Response> {
  return fetch(`${url}/api/readings`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
