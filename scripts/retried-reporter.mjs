/**
 * A vitest reporter that lists every test that passed only on a retry.
 *
 * The Node 22/24 runs (scripts/test-node-versions.mjs) retry a failed test
 * once; without this, a test that failed and then passed would look the same
 * as one that passed: a flake would be hidden. The list is printed at the end
 * and written as JSON to $BOARDCAST_RETRIED_FILE, for the run's summary.
 */
import { writeFileSync } from 'node:fs';

export default class RetriedReporter {
  /** @type {{ file: string, name: string, retries: number, state: string }[]} */
  #retried = [];

  /** @param {import('vitest/node').TestCase} testCase */
  onTestCaseResult(testCase) {
    const { retryCount } = testCase.diagnostic() ?? { retryCount: 0 };
    if (retryCount > 0) {
      this.#retried.push({
        file: testCase.module.relativeModuleId,
        name: testCase.fullName,
        retries: retryCount,
        state: testCase.result().state,
      });
    }
  }

  onTestRunEnd() {
    for (const r of this.#retried) {
      console.warn(`[boardcast] RETRIED (${r.state} after ${r.retries} retry): ${r.file} > ${r.name}`);
    }
    const file = process.env.BOARDCAST_RETRIED_FILE;
    if (file) writeFileSync(file, JSON.stringify(this.#retried));
  }
}
