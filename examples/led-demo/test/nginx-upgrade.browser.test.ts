/**
 * A proxy that drops the WebSocket upgrade (nginx with a bare `proxy_pass`:
 * HTTP/1.0 upstream, no Upgrade/Connection headers — how the issue found
 * it). In a browser the refused upgrade looks like any network error, so
 * the page used to reconnect for ever in silence. Now the client says what
 * happened (`upgrade_failed`) and stops after the second identical failure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type Nginx, startNginx } from '../../../test-support/nginx.js';
import { keepForSuite } from '../../../test-support/suite-teardown.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, nginxPath } from '../../../test-support/system.js';
import type { Demo } from '../src/server.js';
import { buildPageFromSources, openPage } from './helpers.js';
import { startTestDemo } from './test-demo.js';

describe.skipIf(!chromiumPath || !nginxPath)('WebSocket through a proxy that drops the upgrade', () => {
  const keep = keepForSuite();
  let demo: Demo;
  let nginx: Nginx;
  let launched: LaunchedBrowser;

  beforeAll(async () => {
    await buildPageFromSources();
    demo = keep(await startTestDemo({ trustProxy: ['127.0.0.1'] }));
    nginx = keep(
      await startNginx(
        (port) => `
server {
  listen 127.0.0.1:${port};
  location / {
    proxy_pass http://127.0.0.1:${demo.port};
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Host $http_host;
  }
}`,
      ),
      (started) => started.stop(),
    );
    launched = keep(await launchChromium());
  }, 60_000);

  it('the page is told upgrade_failed and the client stops, instead of a silent reconnect loop', async () => {
    const page = await openPage(launched.browser, `http://127.0.0.1:${nginx.port}/?transport=ws`);
    await page.waitForFunction(
      () => (window as unknown as { __demo?: { client: { status: string } } }).__demo?.client.status === 'closed',
      undefined,
      { timeout: 30_000 },
    );
    const error = await page.evaluate(() => {
      const client = (window as unknown as { __demo: { client: { error?: { code: string; message: string } } } }).__demo
        .client;
      return { code: client.error?.code, message: client.error?.message };
    });
    expect(error.code).toBe('upgrade_failed');
    expect(error.message).toMatch(/a proxy drops the upgrade/);
    // The same page over SSE through the same proxy works: only the upgrade was lost.
    await page.goto(`http://127.0.0.1:${nginx.port}/?transport=sse`);
    await page.waitForFunction(() => document.querySelector('#conn-status')?.textContent === 'open', undefined, {
      timeout: 30_000,
    });
  }, 90_000);
});
