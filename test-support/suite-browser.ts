/**
 * The browser of one `describe` block's tests, launched and closed by the
 * block's hooks: the same beforeAll/afterAll in every browser test.
 */
import { afterAll, beforeAll } from 'vitest';

/**
 * `launch()` runs before the block's tests (after the `beforeAll`s the block
 * registered earlier, which start its servers); after them the browser
 * closes, then each of `teardown` runs in order (the block's servers, then
 * its hub). A test reads the browser with the function returned.
 */
export function suiteBrowser<B extends { close(): Promise<void> }>(
  launch: () => Promise<B>,
  ...teardown: (() => unknown)[]
): () => B {
  let browser: B | undefined;
  beforeAll(async () => {
    browser = await launch();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const step of teardown) await step();
  });
  return () => {
    if (!browser) throw new Error('the browser was not launched');
    return browser;
  };
}
