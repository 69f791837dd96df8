/**
 * DNS rebinding in a real browser: a Chromium that resolves rebind.example to
 * 127.0.0.1, as a rebound DNS answer would, for the SSE and WS Host-check tests.
 */
import { afterAll, beforeAll } from 'vitest';
import { type LaunchedBrowser, launchChromium } from './system.js';

/** Inside a `describe`: launched before its tests, closed after them; returns a getter. */
export function rebindingChromium(): () => LaunchedBrowser {
  let chromium: LaunchedBrowser | undefined;
  beforeAll(async () => {
    chromium = await launchChromium(['--host-resolver-rules=MAP rebind.example 127.0.0.1']);
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
  });
  return () => {
    if (!chromium) throw new Error('Chromium did not start');
    return chromium;
  };
}
