import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser } from '../../../test-support/browser-bundle.js';

const SCHEMA_LIBRARIES = ['zod', 'valibot', 'arktype'];
const page = fileURLToPath(new URL('../src/page/app.ts', import.meta.url));

describe('the LED demo page bundle', () => {
  it('has no Node built-in and no schema library the page itself does not import', async () => {
    const bundle = await bundleForBrowser(page);
    expect(bundle.nodeBuiltins).toEqual([]);
    // Schema libraries the demo's own sources (page and contract) ask for are the page's choice…
    const wanted = new Set(
      [...bundle.imports]
        .filter(([path]) => path.includes('examples/led-demo/src/'))
        .flatMap(([, imports]) => imports)
        .map((spec) => spec.split('/')[0] ?? spec)
        .filter((name) => SCHEMA_LIBRARIES.includes(name)),
    );
    // …any other one arrived through a package and is a bug.
    const bundled = SCHEMA_LIBRARIES.filter((name) => bundle.inputs.some((p) => p.includes(`node_modules/${name}/`)));
    expect(bundled.filter((name) => !wanted.has(name))).toEqual([]);
    // The contract the page bundles is the demo's, with its reducers: nothing else folds state.
    expect(bundle.inputs.some((p) => p.endsWith('examples/led-demo/src/contract.ts'))).toBe(true);
  });
});
