// Builds the page (and, for `start`, the server) with esbuild. Plain JS so
// `pnpm start` needs nothing but Node; tests import the same functions.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import writeFileAtomic from 'write-file-atomic';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../../../packages/', import.meta.url));

/**
 * Files (esbuild's output with `write: false`), each landing whole:
 * write-file-atomic writes it aside and renames it over the old one (atomic on
 * one filesystem). A server running from dist/ while another `start` rebuilds
 * it serves the old page or the new one, never half of one.
 * @param {ReadonlyArray<{ path: string, contents: Uint8Array }>} files
 */
async function writeWhole(files) {
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFileAtomic(file.path, Buffer.from(file.contents));
  }
}

/**
 * Resolve `@boardcast/<name>` and its public subpaths (`@boardcast/core/server`)
 * to the package's entry in source form (`src/index.ts`, `src/server.ts`), so
 * a fresh clone runs without building the packages first.
 * @type {import('esbuild').Plugin}
 */
const boardcastFromSource = {
  name: 'boardcast-from-source',
  setup(b) {
    b.onResolve({ filter: /^@boardcast\/[a-z-]+(\/[a-z-]+)?$/ }, (args) => {
      const [name, entry = 'index'] = args.path.slice('@boardcast/'.length).split('/');
      return { path: `${packages}${name}/src/${entry}.ts` };
    });
  },
};

/**
 * The page: `app.js` (uPlot, zod and the boardcast client bundled in), `app.css`
 * (uPlot's stylesheet plus ours) and `index.html`, all written to `outdir`.
 * @param {string} outdir
 * @param {{ minify?: boolean }} [options]
 * @returns {Promise<{ bytes: number }>} size of app.js
 */
export async function buildPage(outdir, options = {}) {
  const result = await build({
    entryPoints: { app: `${root}src/page/main.ts` },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [boardcastFromSource],
    write: false,
  });
  const html = { path: `${outdir}/index.html`, contents: await readFile(`${root}src/page/index.html`) };
  await writeWhole([...result.outputFiles, html]);
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('app.js'));
  return { bytes: output ? output[1].bytes : 0 };
}

/**
 * The server and the simulated device as Node ESM in `outdir`; `ws` stays
 * external (CommonJS) and loads from this example's node_modules.
 * @param {string} outdir
 */
export async function buildServer(outdir) {
  const result = await build({
    entryPoints: { main: `${root}src/main.ts`, 'simulated-device': `${root}src/simulated-device.ts` },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [boardcastFromSource],
    // The packages' own dependencies are bundled; these load from this example's node_modules
    // (mqtt: MQTT.js is CommonJS that requires Node built-ins, which an ESM bundle cannot;
    // better-sqlite3 loads a native addon; pg is CommonJS too).
    external: [
      'ws',
      'bufferutil',
      'utf-8-validate',
      'playwright-core',
      'esbuild',
      'mqtt',
      'better-sqlite3',
      'pg',
      'pg-native',
    ],
    write: false,
  });
  await writeWhole(result.outputFiles);
}

/** `node scripts/build.mjs` → dist/ (server) and dist/public/ (page). */
export async function buildAll() {
  await buildServer(`${root}dist`);
  return buildPage(`${root}dist/public`);
}

// Compared by name: when a bench bundles this file, import.meta.url is the bundle's.
if (process.argv[1]?.endsWith('/scripts/build.mjs')) {
  const { bytes } = await buildAll();
  console.log(`built dist/ (page app.js ${(bytes / 1024).toFixed(1)} KiB)`);
}
