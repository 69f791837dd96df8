import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import {
  AGENT_DIR,
  AGENT_MODULES,
  type AgentMp,
  BRIDGE,
  type LinkRig,
  loadAgentMp,
  RUNNER,
  socketDouble,
  startLinkRig,
  stopAgent,
  waitMp,
} from './agent-mp.js';
import { closeServer, listen, newServer } from './helpers.js';

const CHECKER = fileURLToPath(new URL('./mpy_compat.py', import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe.skipIf(!pythonPath)('static MicroPython compatibility check', () => {
  it('passes every agent module and rejects CPython-only constructs', () => {
    const files = [...AGENT_MODULES, 'main.py', 'config.example.py'].map((f) => join(AGENT_DIR, f));
    expect(execFileSync(pythonPath!, [CHECKER, ...files], { encoding: 'utf8' })).toBe('');
    const bad = join(tmpdir(), `boardcast-mpy-bad-${process.pid}.py`);
    cleanups.push(() => {
      rmSync(bad, { force: true });
    });
    writeFileSync(
      bad,
      [
        'import dataclasses',
        'import threading',
        'x: int = 1',
        'def f(a: int) -> str:',
        '    return f"{a!r}"',
        'print("x", flush=True)',
        'y = "abc".removeprefix("a")',
        'if (n := 3): pass',
        '',
      ].join('\n'),
    );
    let output = '';
    try {
      execFileSync(pythonPath!, [CHECKER, bad], { encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout: string }).stdout);
    }
    for (const problem of [
      'module dataclasses',
      'module threading',
      'variable annotation',
      'return annotation',
      'argument annotation',
      'f-string',
      'print(flush=...)',
      'removeprefix',
      'walrus',
    ]) {
      expect(output).toContain(problem);
    }
  });
});

const SIM = `{'backend': 'sim', 'watchdog_s': 0, 'pins': [{'pin': 5, 'mode': 'output'}, {'pin': 6, 'mode': 'output', 'active_low': True}, {'pin': 0, 'mode': 'input_pullup', 'debounce_ms': 20}]}`;

/**
 * Run `script` in a fresh interpreter with the agent's modules, then a print
 * of `marker`, and expect the marker in the output: the script ran to its end
 * (a failed assert raises before it).
 */
async function expectScriptEnds(marker: string, script: string): Promise<void> {
  const out: string[] = [];
  const mp = await loadAgentMp(out);
  mp.runPython(`${script}print('${marker}')\n`);
  expect(out).toContain(marker);
}

describe('the agent under real MicroPython (WebAssembly build from npm, 32-bit)', () => {
  it('frames, debounces IRQ transitions by their own times, answers requests, drops late ones', async () => {
    await expectScriptEnds(
      'mp-ok',
      `
import sys, bc_ws, bc_agent, bc_util
assert sys.implementation.name == 'micropython' and sys.maxsize == 2**31 - 1
frame = bc_ws.encode_frame(1, b'hello', b'\\x01\\x02\\x03\\x04')
assert frame[0] == 0x81 and frame[1] == 0x85 and bytes(bc_ws.apply_mask(frame[6:], b'\\x01\\x02\\x03\\x04')) == b'hello'
assert bc_ws.parse_url('ws://10.0.0.2:8080/board') == ('ws', '10.0.0.2', 8080, '/board')
agent = bc_agent.Agent(${SIM})
assert agent.backend.levels == {'5': 0, '6': 1, '0': 1}, agent.backend.levels  # outputs inactive, active-low high
hello = agent.hello()
assert hello['firmware'].startswith('boardcast-agent/') and 'micropython' in hello['firmware'], hello
assert agent.handle({'type': 'write', 'id': 1, 'pin': 5, 'value': 1}) == [{'type': 'result', 'id': 1, 'ok': True, 'value': 1}]
assert agent.handle({'type': 'write', 'id': 2, 'pin': 6, 'value': 1})[0]['value'] == 1 and agent.backend.levels['6'] == 0
assert agent.handle({'type': 'write', 'id': 3, 'pin': 0, 'value': 1})[0]['error']['code'] == 'unsupported'
assert agent.handle({'type': 'watch', 'id': 4, 'pin': 0, 'edge': 'both', 'debounceMs': 20})[0]['value'] == 1
edges = []
agent.link.send = lambda frame, *a: edges.append((frame['value'], frame['at_us']))
# A 5 ms glitch and a 40 ms press, recorded by the IRQ ring while the loop was busy:
t = bc_util.ticks_us()
agent.ring.put(2, 0, t); agent.ring.put(2, 1, t + 5000)
agent.ring.put(2, 0, t + 10000); agent.ring.put(2, 1, t + 50000)
agent.backend.levels['0'] = 1
agent.scan(t + 200000)
assert edges == [(0, t + 10000), (1, t + 50000)], edges
# Deadlines: the server clock is estimated from welcome/ping 'now' (max of now - local).
agent.handle({'type': 'welcome', 'heartbeatMs': 5000, 'now': 1000000})
agent.handle({'type': 'ping', 't': 1, 'now': 999000})  # a delayed sample does not lower the estimate
assert 1000000 <= agent.server_now() < 1000100, agent.server_now()
late = agent.handle({'type': 'write', 'id': 5, 'pin': 5, 'value': 0, 'deadline': 999990})[0]
assert late == {'type': 'result', 'id': 5, 'ok': False, 'error': {'code': 'timeout', 'message': 'deadline passed before execution'}}, late
assert agent.backend.levels['5'] == 1  # not executed
assert agent.handle({'type': 'write', 'id': 6, 'pin': 5, 'value': 0, 'deadline': 1005000})[0]['ok']
assert agent.backend.levels['5'] == 0
snap = agent.handle({'type': 'snapshot', 'id': 7})[0]['value']
assert snap['pins'] == {'5': 0, '6': 1, '0': 1}, snap
`,
    );
  });

  it('cert_sha256: pinned in the TLS handshake through verify_callback; refused at config time on a build without it', async () => {
    await expectScriptEnds(
      'pin-ok',
      `
import bc_ws, bc_config
# This WebAssembly build has no mbedTLS SSLContext.verify_callback, like a port
# that cannot check a pin: refused when the config is read, not retried for ever.
try:
    bc_config.load({'backend': 'sim', 'url': 'wss://10.0.0.2:3000/board', 'cert_sha256': 'ab' * 32})
    raise AssertionError('accepted a pin this build cannot check')
except bc_config.ConfigError as e:
    assert 'verify_callback' in str(e) and 'ca' in str(e), str(e)
# ws:// has nothing to pin: still accepted.
bc_config.load({'backend': 'sim', 'url': 'ws://10.0.0.2:3000/board'})
# The callback mbedTLS runs per certificate (depth 0: the server's own).
cert = b'\\x30\\x82' + b'server-certificate' * 20
pin = bc_ws.sha256_hex(cert)
box = [None]
check = bc_ws.pin_check(pin, box)
assert check(memoryview(b'intermediate'), 1) == 0 and box[0] is None
assert check(memoryview(cert), 0) == 0 and box[0] == pin
box = [None]
assert bc_ws.pin_check('00' * 32, box)(memoryview(cert), 0) != 0 and box[0] == pin
`,
    );
  });

  it('regression: garbage from the server (inf clock, string levels, bad deadlines) changes no pin', async () => {
    await expectScriptEnds(
      'garbage-ok',
      `
import json, bc_agent
agent = bc_agent.Agent(${SIM})
# 1e309 parses as inf: kept as the clock, every later request was dropped as late.
agent.handle(json.loads('{"type": "welcome", "heartbeatMs": 5000, "now": 1e309}'))
agent.handle({'type': 'ping', 't': 1, 'now': float('nan')})
assert agent.server_now() is None, agent.server_now()
agent.handle({'type': 'welcome', 'heartbeatMs': 5000, 'now': 1000000})
agent.handle(json.loads('{"type": "ping", "t": 1, "now": 1e309}'))
assert 1000000 <= agent.server_now() < 1000100, agent.server_now()
assert agent.handle({'type': 'write', 'id': 1, 'pin': 5, 'value': 1, 'deadline': 1005000})[0]['ok']
# Truthiness turned "0" into a 1 on the pin.
for bad in ('0', [0], 2, True, None, 0.5):
    r = agent.handle({'type': 'write', 'id': 2, 'pin': 5, 'value': bad, 'deadline': 1005000})[0]
    assert r['error']['code'] == 'invalid_payload', (bad, r)
assert agent.backend.levels['5'] == 1
r = agent.handle({'type': 'write', 'id': 3, 'pin': 5, 'value': 0, 'deadline': 'soon'})[0]
assert r['error']['code'] == 'invalid_payload', r
assert agent.backend.levels['5'] == 1
r = agent.handle({'type': 'mode', 'id': 4, 'pin': 5, 'mode': 'output', 'initial': '0'})[0]
assert r['error']['code'] == 'invalid_payload', r
assert agent.backend.levels['5'] == 1
assert agent.handle({'type': 'mode', 'id': 5, 'pin': 5, 'mode': 'output', 'initial': 0})[0]['ok']
assert agent.backend.levels['5'] == 0
`,
    );
  });

  it('the socket double enforces one waiting writer and a 2 KB send buffer', async () => {
    const server = newServer();
    server.on('connection', () => undefined);
    const port = await listen(server);
    const net = socketDouble();
    cleanups.push(async () => {
      net.destroy();
      await closeServer(server);
    });
    const out: string[] = [];
    const mp = await loadAgentMp(out);
    cleanups.push(() => mp.dispose());
    mp.registerJsModule('jsnet', net.module);
    mp.runPython(BRIDGE);
    await mp.runPythonAsync(`
r, w = await opener('127.0.0.1', ${port}, None)
w.write(b'x' * 3000)
assert len(w.out) == 3000 - 2048
async def drainer():
    await w.drain()
`);
    net.stall();
    await mp.runPythonAsync(`
t1 = asyncio.create_task(drainer())
await asyncio.sleep_ms(20)
try:
    await w.drain()
    print('no-error')
except Busy as e:
    print('busy:', e)
`);
    expect(out).toContain('busy: second waiting writer on one socket');
    // Leave no task polling in this interpreter (see RUNNER in agent-mp.ts).
    await mp.runPythonAsync('t1.cancel()\nawait asyncio.sleep_ms(20)');
  });
});

/** Teardown of an interpreter without a rig: stop its agent, then dispose of it even if that failed. */
async function retire(mp: AgentMp, out: string[]): Promise<void> {
  try {
    await stopAgent(mp, out);
  } finally {
    mp.dispose();
  }
}

/** An interpreter with the agent's modules and `probe` as the JS module `probe`, retired after the test. */
async function withProbe(probe: object): Promise<{ mp: AgentMp; out: string[] }> {
  const out: string[] = [];
  const mp = await loadAgentMp(out);
  mp.registerJsModule('probe', probe);
  cleanups.push(() => retire(mp, out));
  return { mp, out };
}

async function linkRig(heartbeatMs: number): Promise<LinkRig> {
  const rig = await startLinkRig('mp-token', heartbeatMs, (fn) => cleanups.push(fn));
  rig.mp.runPython(BRIDGE);
  rig.mp.runPython('import bc_agent');
  return rig;
}

describe('the agent under MicroPython against a real BoardLink, over the strict socket double', () => {
  // Each test's timeout is above the sum of its waits, so on a loaded machine
  // a slow step fails its own wait (with the agent's output), not the test timer.
  it('comes online, answers a write, reports an edge', async () => {
    const rig = await linkRig(1000);
    rig.mp.runPython(`
agent = bc_agent.Agent({'id': 'mp-board', 'url': 'ws://127.0.0.1:${rig.port}/board', 'token': 'mp-token', 'backend': 'sim',
                  'poll_ms': 20, 'pins': [{'pin': 2, 'mode': 'output'}, {'pin': 4, 'mode': 'input'}]}, opener=opener)
task = asyncio.create_task(runner(agent))
`);
    const board = rig.link.board('mp-board');
    await waitMp(rig.mp, rig.out, () => board.status === 'online', 'MicroPython agent online', 15_000);
    expect(board.firmware).toContain('micropython');
    expect(await board.digitalWrite(2, 1)).toBe(1);
    const seen: number[] = [];
    board.watch(4, { debounceMs: 20 }, (e) => seen.push(e.value));
    await waitMp(rig.mp, rig.out, async () => (await board.digitalRead(4)) === 0, 'read pin 4');
    rig.mp.runPython('agent.backend.set(4, 1)');
    await waitMp(rig.mp, rig.out, () => seen.includes(1), 'edge from MicroPython');
    await stopAgent(rig.mp, rig.out);
    await waitMp(rig.mp, rig.out, () => board.status === 'offline', 'offline after the MicroPython agent stopped');
  }, 90_000);

  it('closes its socket on every refused handshake (no descriptor leak)', async () => {
    const rig = await linkRig(1000);
    rig.mp.runPython(`
agent = bc_agent.Agent({'id': 'mp-leak', 'url': 'ws://127.0.0.1:${rig.port}/board', 'token': 'wrong', 'backend': 'sim',
                  'backoff_min_ms': 20, 'backoff_max_ms': 40}, opener=opener)
task = asyncio.create_task(runner(agent))
`);
    // Four refusals are enough to tell a leak (each leaked socket stays held);
    // the WebAssembly interpreter is slow on a loaded machine, so wait generously.
    await waitMp(
      rig.mp,
      rig.out,
      () => rig.out.filter((l) => /refused.*401/.test(l)).length >= 4,
      'four refusals',
      40_000,
    );
    // The hint comes once: retrying cannot fix a wrong token.
    expect(rig.out.filter((l) => /token refused \(401\): check `token`/.test(l))).toHaveLength(1);
    await stopAgent(rig.mp, rig.out);
    await waitMp(
      rig.mp,
      rig.out,
      () => rig.net.held === 0,
      () => `every refused socket closed by the board (held ${rig.net.held})`,
    );
  }, 90_000);

  it('a send queue that overflows with edges ends the session (never drops them silently); the reconnect resyncs the level', async () => {
    const rig = await linkRig(5000);
    rig.mp.runPython(`
agent = bc_agent.Agent({'id': 'mp-full', 'url': 'ws://127.0.0.1:${rig.port}/board', 'token': 'mp-token', 'backend': 'sim',
                  'poll_ms': 10, 'debounce_ms': 5, 'send_queue': 8, 'backoff_min_ms': 50, 'backoff_max_ms': 100,
                  'pins': [{'pin': 4, 'mode': 'input'}]}, opener=opener)
task = asyncio.create_task(runner(agent))
`);
    const board = rig.link.board('mp-full');
    await waitMp(rig.mp, rig.out, () => board.status === 'online', 'online', 15_000);
    board.watch(4, { debounceMs: 5 }, () => undefined);
    await waitMp(rig.mp, rig.out, async () => (await board.digitalRead(4)) === 0, 'watch set up');
    rig.net.stall();
    // Enough edges to fill the 2 KB send buffer and then the 8-frame queue.
    for (let i = 1; i <= 60; i++) {
      rig.mp.runPython(`agent.backend.set(4, ${i % 2})`);
      await new Promise((r) => setTimeout(r, 15));
    }
    await waitMp(
      rig.mp,
      rig.out,
      () => rig.out.some((l) => /send queue full \(8 frames\)/.test(l)),
      'the overflow is logged',
    );
    rig.net.resume();
    rig.mp.runPython('agent.backend.set(4, 1)');
    await waitMp(
      rig.mp,
      rig.out,
      async () => board.status === 'online' && (await board.digitalRead(4)) === 1,
      'back online with the real level',
      15_000,
    );
  }, 90_000);

  it('regression: a 4 s stall with the input changing throughout → every edge arrives afterwards, never online-but-deaf', async () => {
    // heartbeatMs 3000: the server tolerates 6 s of silence, so the link
    // survives the 4 s stall and the queued edges must all come through it.
    const rig = await linkRig(3000);
    rig.mp.runPython(`
agent = bc_agent.Agent({'id': 'mp-stall', 'url': 'ws://127.0.0.1:${rig.port}/board', 'token': 'mp-token', 'backend': 'sim',
                  'poll_ms': 10, 'debounce_ms': 10,
                  'sensors': [{'name': 'light', 'interval_ms': 100}],
                  'pins': [{'pin': 4, 'mode': 'input'}]}, opener=opener)
task = asyncio.create_task(runner(agent))
`);
    const board = rig.link.board('mp-stall');
    await waitMp(rig.mp, rig.out, () => board.status === 'online', 'online', 15_000);
    const statuses: string[] = [];
    board.on('status', (s: string) => statuses.push(s));
    const seen: number[] = [];
    board.watch(4, { debounceMs: 10 }, (e) => seen.push(e.value));
    await waitMp(rig.mp, rig.out, async () => (await board.digitalRead(4)) === 0, 'watch set up');
    const expected: number[] = [];
    let level = 0;
    const toggle = () => {
      level ^= 1;
      expected.push(level);
      rig.mp.runPython(`agent.backend.set(4, ${level})`);
    };
    rig.net.stall();
    const stallEnds = Date.now() + 4000;
    while (Date.now() < stallEnds) {
      toggle();
      await new Promise((r) => setTimeout(r, 100));
    }
    rig.net.resume();
    expect(expected.length).toBeGreaterThan(20);
    await waitMp(
      rig.mp,
      rig.out,
      () => seen.length >= expected.length,
      () => `all ${expected.length} edges after the stall (got ${seen.length})`,
      15_000,
    );
    expect(seen).toEqual(expected);
    // Still listening, not just pinging: new edges and requests keep working.
    toggle();
    await waitMp(rig.mp, rig.out, () => seen.length === expected.length, 'an edge after the stall');
    expect(await board.digitalRead(4)).toBe(level);
    expect(board.status).toBe('online');
    expect(statuses).not.toContain('offline');
    expect(rig.out.join('\n')).not.toMatch(/Busy|second waiting/);
  }, 90_000);
});

describe('Wi-Fi under MicroPython (a network module double)', () => {
  it('ESP32: connect() once, then wait for the port to reconnect by itself; no connect() every 250 ms', async () => {
    let connects = 0;
    let up = false;
    const dials: string[] = [];
    const { mp, out } = await withProbe({
      connect: () => connects++,
      up: () => up,
      dial: (host: string) => dials.push(host),
    });
    mp.FS.writeFile(
      '/network.py',
      [
        'import probe',
        'STA_IF = 0',
        'class WLAN:',
        '    def __init__(self, i): pass',
        '    def active(self, on): pass',
        '    def isconnected(self): return bool(probe.up())',
        '    def connect(self, ssid, pw): probe.connect()',
        '    def disconnect(self): pass',
        '',
      ].join('\n'),
    );
    mp.runPython(`${RUNNER}
import asyncio, bc_agent, probe
class Esp32:
    platform = 'esp32'
bc_agent.sys = Esp32  # the port decides who reconnects
async def refuse(host, port, cfg):
    probe.dial(host)
    raise OSError(111, 'ECONNREFUSED')
agent = bc_agent.Agent({'backend': 'sim', 'wifi': {'ssid': 'lab', 'password': 'pw'}, 'backoff_min_ms': 100,
                        'backoff_max_ms': 200}, opener=refuse)
task = asyncio.create_task(runner(agent))
`);
    await waitMp(mp, out, () => out.some((l) => /wifi connecting lab/.test(l)), 'first connect');
    await new Promise((r) => setTimeout(r, 1500)); // the station stays down for a while
    expect(connects).toBe(1);
    expect(dials).toEqual([]);
    up = true;
    await waitMp(mp, out, () => dials.length >= 1, 'dials once the station is up');
    expect(connects).toBe(1);
  }, 60_000);
});

describe('supervisor and hardware watchdog under MicroPython', () => {
  it('feeds the watchdog while every loop beats; a stuck loop stops the feed, is restarted, then reboots', async () => {
    let feeds = 0;
    const reboots: string[] = [];
    const { mp, out } = await withProbe({ feed: () => feeds++, reboot: (why: string) => reboots.push(why) });
    mp.runPython(`${RUNNER}
import asyncio, sys, bc_agent, probe
class Wdt:
    def feed(self):
        probe.feed()
async def refuse(host, port, cfg):
    raise OSError(111, 'ECONNREFUSED')
bc_agent.WDT_MAX[sys.platform] = 3000  # as on a port whose WDT cannot wait longer
agent = bc_agent.Agent({'backend': 'sim', 'hw_watchdog_ms': 5000, 'stall_ms': 600, 'backoff_min_ms': 100,
                        'backoff_max_ms': 200, 'pins': [{'pin': 4, 'mode': 'input'}]},
                       opener=refuse, wdt=Wdt(), reboot=probe.reboot)
task = asyncio.create_task(runner(agent))
`);
    await waitMp(mp, out, () => feeds >= 4, 'watchdog fed');
    expect(out.join('\n')).toContain('hw_watchdog_ms 5000 exceeds the webassembly maximum; using 3000');
    // The inputs loop hangs (as on an await that never completes).
    mp.runPython(`
async def stuck():
    await asyncio.Event().wait()
agent.input_loop = stuck
agent.tasks['inputs'].cancel()
`);
    await waitMp(
      mp,
      out,
      () => out.some((l) => /supervisor: inputs made no progress/.test(l)),
      'restart logged',
      10_000,
    );
    const atRestart = feeds;
    await waitMp(mp, out, () => reboots.length === 1, 'reboot after the restart did not help', 10_000);
    expect(reboots[0]).toContain('inputs stuck again');
    // Not one feed between the restart and the reboot: the restarted loop never beat.
    const atReboot = feeds;
    expect(atReboot).toBe(atRestart);
    await new Promise((r) => setTimeout(r, 1500));
    expect(feeds).toBe(atReboot);
  }, 60_000);
});

describe('the interpreter harness (one realm per interpreter, crashes contained)', () => {
  /** An interpreter whose event loop counts its turns in `count`. */
  async function ticker(): Promise<{ mp: AgentMp; out: string[]; count: () => number }> {
    const out: string[] = [];
    const mp = await loadAgentMp(out);
    cleanups.push(() => mp.dispose());
    let n = 0;
    mp.registerJsModule('probe', { tick: () => n++ });
    mp.runPython(`
import asyncio, probe
async def tick():
    while True:
        probe.tick()
        await asyncio.sleep_ms(5)
task = asyncio.create_task(tick())
`);
    return { mp, out, count: () => n };
  }

  it('a second interpreter leaves the first one running (its loop, its objects)', async () => {
    // In one realm the build's globals belong to the last interpreter loaded:
    // the first one's timers then called into the second, and its loop stopped.
    const a = await ticker();
    await waitMp(a.mp, a.out, () => a.count() > 3, 'the first interpreter ticking');
    const b = await ticker();
    const atSecond = a.count();
    await waitMp(b.mp, b.out, () => b.count() > 3, 'the second interpreter ticking');
    await waitMp(a.mp, a.out, () => a.count() > atSecond + 3, 'the first interpreter still ticking');
  });

  it('a wasm trap in the event loop fails the wait with its error; nothing escapes as an uncaught error', async () => {
    const out: string[] = [];
    const mp = await loadAgentMp(out);
    cleanups.push(() => mp.dispose());
    mp.runPython(`
import asyncio, uctypes
async def wild():
    await asyncio.sleep_ms(10)
    print('reading past the end of linear memory')
    uctypes.bytearray_at(0xfffffff0, 8)[0]
agent = None
task = asyncio.create_task(wild())
`);
    await expect(waitMp(mp, out, () => false, 'something that never comes', 15_000)).rejects.toThrow(
      /crashed while waiting for something that never comes: RuntimeError: memory access out of bounds \(output: reading past the end/,
    );
    // A teardown that stops the agent reports the crash too, instead of waiting for an agent that cannot finish.
    await expect(stopAgent(mp, out)).rejects.toThrow(/had crashed: RuntimeError: memory access out of bounds/);
  });
});
