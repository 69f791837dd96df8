import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Tests run against sources, never a build: every entry a package.json
 * `exports` map names resolves to its source, `./dist/<entry>.js` →
 * `packages/<name>/src/<entry>.ts` (`@boardcast/core` → `src/index.ts`,
 * `@boardcast/board-adapter-gpio/contract` → `src/contract.ts`). Each key
 * matches the whole specifier: a plain string key also matches `<key>/…`,
 * which turned `@boardcast/x/contract` into `src/index.ts/contract`.
 */
function sourceAliases(): { find: RegExp; replacement: string }[] {
  const entries: [string, string][] = [];
  for (const name of readdirSync(`${root}packages`)) {
    const manifest = `${root}packages/${name}/package.json`;
    if (!existsSync(manifest)) continue;
    const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports;
    for (const [subpath, target] of Object.entries(exportsMap ?? {})) {
      const dist = JSON.stringify(target).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
      const source = dist && `${root}packages/${name}/src/${dist}.ts`;
      if (source && existsSync(source)) entries.push([`@boardcast/${name}${subpath.slice(1)}`, source]);
    }
  }
  return entries.map(([spec, source]) => ({
    find: new RegExp(`^${spec.replace(/[/.-]/g, '\\$&')}$`),
    replacement: source,
  }));
}
const alias = sourceAliases();

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
