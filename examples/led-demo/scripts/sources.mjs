// Where each public entry of a workspace package has its source: the entry's
// `./dist/<entry>.js` in the package's `exports` map → `packages/<name>/src/<entry>.ts`,
// the same rule vitest.config.ts and the tests use. Examples keep importing
// `@boardcast/*` by their public names; only the resolution changes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packages = fileURLToPath(new URL('../../../packages/', import.meta.url));

/** @type {Record<string, string>} `@boardcast/core/wire` → `/…/packages/core/src/wire.ts` */
export const sourceAliases = Object.fromEntries(
  readdirSync(packages).flatMap((name) => {
    const manifest = `${packages}${name}/package.json`;
    if (!existsSync(manifest)) return [];
    const exportsMap = JSON.parse(readFileSync(manifest, 'utf8')).exports ?? {};
    return Object.entries(exportsMap).flatMap(([subpath, target]) => {
      const dist = JSON.stringify(target).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
      const source = dist && `${packages}${name}/src/${dist}.ts`;
      return source && existsSync(source) ? [[`@boardcast/${name}${subpath.slice(1)}`, source]] : [];
    });
  }),
);
