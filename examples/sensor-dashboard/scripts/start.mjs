// `pnpm --filter sensor-dashboard start`: build with esbuild (about a second),
// then run the server, which spawns the simulated device.
import { buildAll } from './build.mjs';

await buildAll();
// A computed URL, so the type-checker does not follow into the bundle.
await import(new URL('../dist/main.js', import.meta.url).href);
