// Node module hooks that run the demo straight from the workspace's TypeScript
// sources: `@boardcast/*` public entries resolve to their `src/*.ts` (see
// sources.mjs), a `./x.js` import inside a `.ts` file finds `./x.ts`, and each
// `.ts` file is transpiled by esbuild as it loads (types stripped, nothing
// bundled). Every file keeps its own path, so `import.meta.url` and the
// packages' own dependencies (ws, ioredis, mqtt) resolve as in the repo.
// Registered by from-source.mjs.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';
import { sourceAliases } from './sources.mjs';

export async function resolve(specifier, context, nextResolve) {
  const source = sourceAliases[specifier];
  if (source) return { url: pathToFileURL(source).href, shortCircuit: true };
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const js = new URL(specifier, context.parentURL);
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { code } = transformSync(readFileSync(file, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: file,
    sourcemap: 'inline',
  });
  return { format: 'module', source: code, shortCircuit: true };
}
