import { defineConfig, type Options } from 'tsup';

/**
 * One build recipe for every package: ESM + CJS + .d.ts/.d.cts, so `import`,
 * `require` and both `node16` and `bundler` resolution get matching types.
 * Packages pass their own entry points.
 */
export function packageConfig(entry: Record<string, string>, extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false } },
    tsconfig: 'tsconfig.build.json',
    sourcemap: true,
    clean: true,
    target: 'es2022',
    treeshake: true,
    splitting: false,
    ...extra,
  });
}
