import type { Browser, BrowserContext, BrowserContextOptions, Frame, Page } from 'playwright-core';
import { expect, onTestFinished } from 'vitest';
import { startFramingPage } from './security-probe.js';

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
