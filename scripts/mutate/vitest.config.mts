// The vitest config of a Stryker run (see stryker.config.mjs): the tests of
// MUTATE_TARGET's package from its sandbox (the working directory), with
// every `@boardcast/*` entry resolved to its source — the mutated package's
// from the sandbox, every other package's from the repo.
import { defineConfig } from 'vitest/config';
import { viteAliases, workspaceSources } from '../workspace-sources.mjs';
import { TARGETS } from './targets.mjs';

const sandbox = `${process.cwd()}/`;
const target = TARGETS[(process.env.MUTATE_TARGET ?? 'core') as keyof typeof TARGETS];
const mutated = target.dir.split('/')[1];
const repoPackages = new URL('../../packages/', import.meta.url).pathname;

export default defineConfig({
  resolve: {
    alias: viteAliases(workspaceSources((name) => (name === mutated ? sandbox : `${repoPackages}${name}/`))),
  },
  test: {
    root: sandbox,
    include: target.tests,
    // MUTATE_EXCLUDE_TESTS (comma-separated globs) leaves tests out, e.g. to see what a new test file kills.
    exclude: [...target.exclude, ...(process.env.MUTATE_EXCLUDE_TESTS?.split(',').filter(Boolean) ?? [])],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
