import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { viteAliases } from './scripts/workspace-sources.mjs';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests run against sources, never a build: every entry a package.json
// `exports` map names resolves to its source (scripts/workspace-sources.mjs).
const alias = viteAliases();

const dirs = ['packages', 'examples']
  .flatMap((group) =>
    existsSync(`${root}${group}`) ? readdirSync(`${root}${group}`).map((name) => `${group}/${name}`) : [],
  )
  .filter((dir) => existsSync(`${root}${dir}/test`));

export default defineConfig({
  resolve: { alias },
  test: {
    projects: dirs.map((dir) => ({
      resolve: { alias },
      test: {
        name: dir.split('/')[1],
        root: `${root}${dir}`,
        include: ['test/**/*.test.ts'],
        environment: 'node',
        testTimeout: 20_000,
        hookTimeout: 30_000,
        typecheck: {
          enabled: existsSync(`${root}${dir}/tsconfig.test.json`) || existsSync(`${root}${dir}/tsconfig.json`),
          include: ['test/**/*.types.test.ts'],
          tsconfig: existsSync(`${root}${dir}/tsconfig.test.json`) ? 'tsconfig.test.json' : 'tsconfig.json',
        },
      },
    })),
  },
});
