import type { Browser, BrowserContext, BrowserContextOptions, Frame, Page } from 'playwright-core';
import { expect, onTestFinished } from 'vitest';
import { startFramingPage, watchPage } from './security-probe.js';

/** A new context of `browser` for the running test; closed when the test ends, however it ends. */
export async function newContextForTest(browser: Browser, options?: BrowserContextOptions): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  onTestFinished(() => context.close());
  return context;
}

/**
 * A clickjacking page on another origin (startFramingPage) that frames
 * `target` beside a frame of its own, loaded in a new page of `context`.
 * Checks that its own frame loads (framing works in general, so a refused
 * victim is the target's doing) and resolves with the page and the victim
 * frame for the caller's checks. Its server is closed when the test ends.
 */
export async function openFramingPage(
  context: BrowserContext,
  target: string,
  size?: { width: number; height: number },
): Promise<{ page: Page; victim: Frame | null }> {
  const evil = await startFramingPage(target, size);
  onTestFinished(() => new Promise<void>((resolve) => evil.server.close(() => resolve())));
  const page = await context.newPage();
  await page.goto(evil.url, { waitUntil: 'load' });
  await expect(page.frame({ name: 'own' })?.locator('#own').textContent()).resolves.toBe('own frame');
  return { page, victim: page.frame({ name: 'victim' }) };
}

/**
 * Logs in as a user does: opens the printed `${origin}/?token=…` address
 * (with `?transport=`) in a new watched page of `context` (see watchPage:
 * errors and CSP violations land in `problems`). Checks that the token left
 * the address bar and that the session cookie it was swapped for is not
 * readable by scripts (HttpOnly). That is checked on arrival only: callers
 * check `document.cookie` again once the page has connected and been used.
 */
export async function openWithToken(
  context: BrowserContext,
  origin: string,
  token: string,
  transport: string,
): Promise<{ page: Page; problems: string[] }> {
  const watched = await watchPage(context);
  await watched.page.goto(`${origin}/?token=${token}&transport=${transport}`);
  expect(watched.page.url()).toBe(`${origin}/?transport=${transport}`);
  expect(await watched.page.evaluate(() => document.cookie)).toBe('');
  return watched;
}
