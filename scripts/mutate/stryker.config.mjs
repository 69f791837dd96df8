// Stryker for one target of targets.mjs (MUTATE_TARGET), run by run.mjs with
// the package as the working directory.
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.mjs';

const name = process.env.MUTATE_TARGET ?? 'core';
const target = TARGETS[name];
if (!target) throw new Error(`unknown MUTATE_TARGET "${name}" (one of ${Object.keys(TARGETS).join(', ')})`);
const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: `${here}vitest.config.mts`, related: false },
  mutate: target.mutate,
  coverageAnalysis: 'perTest',
  // Sandboxes at <repo>/.stryker-tmp/sandbox-*: two levels below the repo like
  // a package, so the tests' `../../../test-support/…` imports still resolve.
  tempDirName: '../../.stryker-tmp',
  cleanTempDir: 'always',
  // The packages' tsconfig files extend ../../tsconfig.base.json, which Stryker
  // would rewrite for a sandbox inside the package; vitest needs none of them.
  ignorePatterns: ['dist', 'node_modules', '.artifacts', 'coverage', '*-bundle', 'size-check', 'tsconfig*.json'],
  reporters: ['json', 'clear-text', 'progress-append-only'],
  jsonReporter: { fileName: `${root}reports/mutation/${process.env.MUTATE_REPORT ?? name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 85, low: 65, break: null },
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 1),
  timeoutMS: 10_000,
  disableTypeChecks: 'src/**/*.ts',
};
