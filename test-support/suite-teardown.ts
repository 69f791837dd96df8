import { afterAll } from 'vitest';

/** Holds `thing` until the suite ends and returns it: see {@link keepForSuite}. */
export interface Keep {
  <T extends { close(): unknown }>(thing: T): T;
  <T>(thing: T, stop: (thing: T) => unknown): T;
}

/**
 * What the enclosing `describe` (or file) starts in `beforeAll`, stopped in
 * its `afterAll`: `keep(thing)` returns `thing` and stops it then with
 * `thing.close()`, or with `stop(thing)` when given. The last kept stops
 * first — a browser before the server its pages are on, a server before the
 * Redis it uses — and what never started was never kept.
 */
export function keepForSuite(): Keep {
  const stops: (() => unknown)[] = [];
  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });
  return (<T>(thing: T, stop = (kept: T) => (kept as { close(): unknown }).close()): T => {
    stops.push(() => stop(thing));
    return thing;
  }) as Keep;
}
