import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForBrowser } from '../../../test-support/browser-bundle.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'boardcast-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ```ts block of the README's "Twenty lines" that starts with `// <file>`. */
function snippet(file: string): string {
  const section = readme.slice(
    readme.indexOf('## Twenty lines'),
    readme.indexOf('\n## ', readme.indexOf('## Twenty lines') + 3),
  );
  const block = [...section.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .find((b) => b.startsWith(`// ${file}\n`));
  if (!block) throw new Error(`README "Twenty lines" has no \`// ${file}\` block`);
  return block;
}

describe('the README page bundles for a browser', () => {
  it('page + contract: platform browser, no externals, no Node built-in, no schema library', async () => {
    writeFileSync(join(dir, 'contract.ts'), snippet('contract.ts'));
    writeFileSync(join(dir, 'page.ts'), snippet('page.ts'));
    const bundle = await bundleForBrowser(join(dir, 'page.ts'));
    expect(bundle.nodeBuiltins).toEqual([]);
    expect(bundle.inputs.filter((p) => /node_modules\/(zod|valibot|arktype)\//.test(p))).toEqual([]);
    // The contract's vocabulary came from the browser-safe entry, not the board package's main one.
    expect(bundle.inputs.some((p) => p.endsWith('board-adapter-gpio/src/contract.ts'))).toBe(true);
    expect(bundle.inputs.some((p) => p.endsWith('board-adapter-gpio/src/index.ts'))).toBe(false);
  });

  it('(the check can fail) the same contract from the main entry reaches Node built-ins and is refused', async () => {
    writeFileSync(
      join(dir, 'contract.ts'),
      snippet('contract.ts').replace("'@boardcast/board-adapter-gpio/contract'", "'@boardcast/board-adapter-gpio'"),
    );
    writeFileSync(join(dir, 'page.ts'), snippet('page.ts'));
    await expect(bundleForBrowser(join(dir, 'page.ts'))).rejects.toThrow(/Could not resolve "node:/);
  });
});
