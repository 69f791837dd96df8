// What `pnpm mutate` mutates (issue 28): all of core, sse-server's endpoint,
// browser-client's client, backoff and state mirror. `mutate` globs are
// relative to the package; `tests` are the test files Stryker may run
// (Chromium tests are left out: what runs in the browser reports no
// coverage to vitest, so Stryker would never pick them for a mutant).
export const TARGETS = {
  core: {
    dir: 'packages/core',
    mutate: ['src/**/*.ts', '!src/index.ts', '!src/wire.ts', '!src/server.ts'],
    tests: ['test/**/*.test.ts'],
    exclude: ['test/**/*.types.test.ts', 'test/**/*.browser.test.ts'],
  },
  'sse-server': {
    dir: 'packages/sse-server',
    mutate: ['src/sse-endpoint.ts'],
    tests: ['test/**/*.test.ts'],
    exclude: ['test/**/*.types.test.ts', 'test/**/*.browser.test.ts'],
  },
  'browser-client': {
    dir: 'packages/browser-client',
    mutate: ['src/client.ts', 'src/backoff.ts', 'src/state-mirror.ts'],
    tests: ['test/**/*.test.ts'],
    exclude: ['test/**/*.types.test.ts', 'test/**/*.browser.test.ts', 'test/browser.test.ts'],
  },
};
