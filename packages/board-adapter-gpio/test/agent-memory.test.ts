/**
 * Memory of the agent under the 32-bit MicroPython WebAssembly build: the
 * heap each module needs to compile, what stays after import, and what a
 * full session retains (hello, 100 edges, 100 writes, a reconnect). These are
 * deterministic byte counts (gc.mem_alloc()), not timings; the budgets are
 * the ESP32-without-PSRAM limits from issue 14. Figures are printed:
 *   pnpm exec vitest run --project board-adapter-gpio test/agent-memory.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_MODULES, type AgentMp, BRIDGE, loadAgentMp, startLinkRig, waitMp } from './agent-mp.js';

const COMPILE_BUDGET = 32 * 1024;
const SESSION_BUDGET = 40 * 1024;
// Dependency order, so each import measures one module.
const ORDER = [
  'bc_util',
  'bc_config',
  'bc_ws',
  'bc_pins',
  'bc_machine',
  'bc_lgpio',
  'bc_link',
  'bc_core',
  'bc_agent',
  'boardcast_agent',
];

/**
 * The smallest free heap (to 512 bytes) in which `name`.py compiles, in a
 * fresh interpreter (compile() of the source, as an import does before it
 * runs the module; the source string itself is not counted, a device's import
 * streams the file). The compiler frees its parse tree explicitly, so a
 * before/after difference would miss the peak; instead each trial starts an
 * interpreter whose first heap area leaves a given room and checks whether
 * compiling had to grow the heap (this build adds an area only after a
 * collection failed to find space).
 */
async function compilePeak(name: string): Promise<number> {
  /** micropython.mem_info(): "GC: total: T, used: U, free: F" over the areas that exist now. */
  const gcInfo = (mp: AgentMp, out: string[]) => {
    out.length = 0;
    mp.runPython('micropython.mem_info()');
    const m = out.map((l) => /GC: total: (\d+), used: (\d+), free: (\d+)/.exec(l)).find(Boolean);
    if (!m) throw new Error(`no mem_info in ${out.join(' | ')}`);
    return { total: Number(m[1]), free: Number(m[3]) };
  };
  const trial = async (heapsize: number) => {
    const out: string[] = [];
    const mp = await loadAgentMp(out, heapsize);
    try {
      mp.runPython(`
import gc, micropython
with open(${JSON.stringify(`/${name}.py`)}) as f:
    src = f.read()
gc.collect()
`);
      const before = gcInfo(mp, out);
      mp.runPython(`code = compile(src, ${JSON.stringify(name)}, 'exec')`);
      const after = gcInfo(mp, out);
      return { room: before.free, fits: before.total <= heapsize && after.total === before.total };
    } finally {
      mp.dispose();
    }
  };
  let lo = 8 * 1024;
  let hi = 256 * 1024;
  let best = await trial(hi);
  if (!best.fits) return -1;
  while (hi - lo > 512) {
    const mid = (lo + hi) >> 1;
    const t = await trial(mid);
    if (t.fits) {
      hi = mid;
      best = t;
    } else lo = mid;
  }
  return best.room;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('agent memory under MicroPython (32-bit WebAssembly build)', () => {
  it('every module compiles in ≤ 32 KB of heap; a full session retains < 40 KB', async () => {
    expect([...ORDER].sort()).toEqual(AGENT_MODULES.map((f) => f.replace(/\.py$/, '')).sort());
    // First: the compile trials, each in an interpreter of its own.
    const figures: Record<string, number> = {};
    for (let i = 0; i < ORDER.length; i++) {
      figures[`compile ${ORDER[i]}`] = await compilePeak(ORDER[i]!);
    }
    const { link, port, net, mp, out } = await startLinkRig('mem', 1000, (fn) => cleanups.push(fn));
    mp.registerJsModule('probe', { put: (name: string, value: number) => (figures[name] = value) });
    // Firmware has these built in or frozen; the test double stands for the socket.
    mp.runPython(`${BRIDGE}
import gc, sys, time, json, binascii, hashlib, array, random, probe
gc.collect()
base = gc.mem_alloc()
for name in ${JSON.stringify(ORDER)}:
    gc.collect()
    a = gc.mem_alloc()
    __import__(name)
    gc.collect()
    probe.put('retained ' + name, gc.mem_alloc() - a)
gc.collect()
probe.put('after import', gc.mem_alloc() - base)
`);
    mp.runPython('gc.collect()\nimported = gc.mem_alloc()');
    mp.runPython(`
def measure(tag):
    gc.collect()
    probe.put(tag, gc.mem_alloc() - imported)
import bc_agent
agent = bc_agent.Agent({'id': 'mem', 'url': 'ws://127.0.0.1:${port}/board', 'token': 'mem', 'backend': 'sim',
                        'poll_ms': 10, 'debounce_ms': 5,
                        'sensors': [{'name': 'light', 'interval_ms': 200}],
                        'pins': [{'pin': 2, 'mode': 'output', 'name': 'led'}, {'pin': 4, 'mode': 'input', 'name': 'button'}]},
                       opener=opener)
task = asyncio.create_task(runner(agent))
`);
    const board = link.board('mem');
    const session: number[] = [];
    const sample = (tag: string) => {
      mp.runPython(`measure(${JSON.stringify(tag)})`);
      session.push(figures[tag]!);
    };
    await waitMp(mp, out, () => board.status === 'online', 'online', 15_000);
    sample('online');
    const seen: number[] = [];
    board.watch(4, { debounceMs: 5 }, (e) => seen.push(e.value));
    await waitMp(mp, out, async () => (await board.digitalRead(4)) === 0, 'watch');
    for (let i = 1; i <= 100; i++) {
      mp.runPython(`agent.backend.set(4, ${i % 2})`);
      await waitMp(mp, out, () => seen.length === i, `edge ${i}`);
      if (i % 25 === 0) sample(`edges ${i}`);
    }
    for (let i = 1; i <= 100; i++) {
      expect(await board.digitalWrite(2, (i % 2) as 0 | 1)).toBe(i % 2);
      if (i % 25 === 0) sample(`writes ${i}`);
    }
    net.cut();
    await waitMp(mp, out, () => board.status === 'offline', 'offline after the cut');
    await waitMp(mp, out, () => board.status === 'online', 'online again after the reconnect', 15_000);
    expect(await board.digitalWrite(2, 1)).toBe(1);
    sample('after reconnect');
    const peak = Math.max(...session);
    console.log(
      `agent memory, 32-bit MicroPython ${'(bytes)'}\n${Object.entries(figures)
        .map(([k, v]) => `  ${k.padEnd(26)} ${v}`)
        .join(
          '\n',
        )}\n  session peak above import  ${peak}\n  total (import + session)   ${figures['after import']! + peak}`,
    );
    for (const name of ORDER) {
      expect(figures[`compile ${name}`], name).toBeGreaterThan(0);
      expect(figures[`compile ${name}`], name).toBeLessThanOrEqual(COMPILE_BUDGET);
    }
    expect(peak).toBeLessThan(SESSION_BUDGET);
    // About a hundred WebAssembly interpreters one after another (the compile trials): 20 s was not enough at load average 28.
  }, 180_000);
});
