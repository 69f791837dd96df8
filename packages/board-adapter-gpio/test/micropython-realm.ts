/**
 * One MicroPython interpreter per JavaScript realm, as one per board.
 *
 * The npm WebAssembly build (`@micropython/micropython-webassembly-pyscript`)
 * keeps its JS-side state on `globalThis`: `Module` (the last instance
 * loaded), the table of JS objects Python holds (`proxy_js_ref`) and the
 * FinalizationRegistry that frees Python objects JS held
 * (`pyProxyFinalizationRegistry`). Every callable it hands to JS — the
 * asyncio loop's `setTimeout(_run_iter)` among them — calls
 * `globalThis.Module`, and every cleanup of that registry frees a slot of
 * `globalThis.Module`'s table. With several interpreters in one realm, an
 * earlier interpreter's late cleanups freed slots 1–10 of the next one's
 * table: slot 1 was the new agent's first `_run_iter`, the timer then called
 * a NULL object, MicroPython read its type from address 0 (emscripten's
 * cookie, far past the heap) and the wasm trapped ("memory access out of
 * bounds" from a Timeout; the agent never ran). Which slots, and whether at
 * all, depended on when V8 collected — so it failed under load.
 *
 * So each interpreter is loaded into its own `vm` context: its own
 * `globalThis`, `Module`, tables and registry; a stale timer or cleanup can
 * only reach the interpreter that made it. The build's ES module text is run
 * as a script there (its four dynamic imports and `import.meta.url` bound to
 * ours); the edits are checked, so a build that no longer matches fails
 * loudly instead of loading half-isolated.
 *
 * A trap in the interpreter (or an exception out of its event loop) never
 * escapes into Node's timer loop as an uncaught error: the context's timers
 * run callbacks guarded, record the first error as `crash`, and run nothing
 * more for that interpreter (a trap in any other call into the wasm is
 * recorded too, and nothing enters a crashed or disposed interpreter again).
 * Tests check `crash` in their waits and fail with it (see `waitMp` in
 * agent-mp.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import type { MicroPythonInstance } from '@micropython/micropython-webassembly-pyscript';

type LoadOptions = Parameters<typeof import('@micropython/micropython-webassembly-pyscript').loadMicroPython>[0];

export interface RealmMicroPython extends MicroPythonInstance {
  /** The first error out of the interpreter's timers (a wasm trap or its event loop failing), if any. */
  readonly crash: unknown;
  /** No callback of this interpreter runs after this (its timers are dropped). */
  dispose(): void;
}

const require = createRequire(import.meta.url);
const ENTRY = require.resolve('@micropython/micropython-webassembly-pyscript');

/** Replace `from` by `to`, exactly `count` times, or say which edit no longer fits the build. */
function edit(source: string, from: string, to: string, count: number): string {
  const found = source.split(from).length - 1;
  if (found !== count) {
    throw new Error(
      `${ENTRY}: expected ${count} × ${JSON.stringify(from)}, found ${found}; the realm loader in micropython-realm.ts needs updating for this build`,
    );
  }
  return source.split(from).join(to);
}

let script: vm.Script | undefined;
function buildScript(): vm.Script {
  let src = readFileSync(ENTRY, 'utf8');
  src = edit(src, 'import.meta.url', '__mpUrl', 4);
  for (const m of ['module', 'path', 'url', 'fs'])
    src = edit(src, `await import("${m}")`, `await __mpImport("${m}")`, 1);
  src = edit(src, 'export default _createMicroPythonModule;', '', 1);
  src = edit(src, 'export async function loadMicroPython', 'async function loadMicroPython', 1);
  return new vm.Script(`(async () => {\n${src}\nreturn loadMicroPython;\n})()`, { filename: ENTRY });
}

export async function loadRealmMicroPython(options: LoadOptions): Promise<RealmMicroPython> {
  script ??= buildScript();
  let crash: unknown;
  let disposed = false;
  const timers = new Set<NodeJS.Timeout>();
  const guard =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      if (disposed || crash !== undefined) return;
      try {
        fn(...args);
      } catch (error) {
        crash = error;
      }
    };
  const context = vm.createContext({
    // The Node globals the build's Node path and its Python `js` module use.
    process,
    console,
    Buffer,
    URL,
    TextDecoder,
    TextEncoder,
    crypto: globalThis.crypto,
    performance,
    setTimeout: (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const t = setTimeout(
        (...a: unknown[]) => {
          timers.delete(t);
          guard(fn)(...a);
        },
        ms,
        ...args,
      );
      timers.add(t);
      return t;
    },
    clearTimeout: (t: NodeJS.Timeout) => {
      timers.delete(t);
      clearTimeout(t);
    },
    setInterval: (fn: (...a: unknown[]) => void, ms?: number) => {
      const t = setInterval(guard(fn), ms);
      timers.add(t);
      return t;
    },
    clearInterval: (t: NodeJS.Timeout) => {
      timers.delete(t);
      clearInterval(t);
    },
    __mpUrl: pathToFileURL(ENTRY).href,
    __mpImport: (name: string) => import(name),
  });
  const load = (await script.runInContext(context)) as (o: LoadOptions) => Promise<MicroPythonInstance>;
  const mp = await load(options);
  // Every call into the wasm goes through Module.ccall (looked up at call
  // time): a trap there is the interpreter's crash whoever called (a promise
  // reaction too); after a crash or dispose nothing enters it again, and a
  // late FinalizationRegistry cleanup has nothing left to free.
  const module = (context as { Module: { ccall: (...args: unknown[]) => unknown } }).Module;
  const ccall = module.ccall;
  module.ccall = (...args: unknown[]) => {
    if (disposed || crash !== undefined) {
      if (args[0] === 'proxy_c_free_obj') return null;
      throw new Error(
        `this MicroPython interpreter ${crash !== undefined ? `crashed earlier (${String(crash)})` : 'was disposed of'}`,
      );
    }
    try {
      return ccall(...args);
    } catch (error) {
      if ((error as Error | undefined)?.name === 'RuntimeError') crash ??= error;
      throw error;
    }
  };
  Object.defineProperty(mp, 'crash', { get: () => crash, enumerable: true });
  return Object.assign(mp, {
    dispose() {
      disposed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  }) as RealmMicroPython;
}
