// `node --import ./scripts/from-source.mjs src/cli.ts`: run the demo from the
// workspace's sources, no package build (source-hooks.mjs). `pnpm demo` uses it.
import module from 'node:module';

if (typeof module.register !== 'function') {
  console.error(
    `Running from sources needs Node >= 20.6 (module.register); this is ${process.version}.\n` +
      'Build the packages instead: pnpm build && pnpm --filter led-demo start:built',
  );
  process.exit(1);
}
module.register('./source-hooks.mjs', import.meta.url);
// Stack traces point into src/*.ts (esbuild writes inline source maps).
process.setSourceMapsEnabled(true);
