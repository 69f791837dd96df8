/**
 * Board-link floods from a token holder (issue 17, finding 3): new board ids,
 * new sensor names, 16 KB pings from agents that never read, invalid UTF-8.
 * The link runs alone in a child process with `--expose-gc`
 * (remote-flood.server.ts, bundled here with esbuild), so its RSS and
 * descriptors are the server's own; the floods come from this process over
 * real sockets. Each flood records RSS, JS heap (+external) and descriptors
 * before, at the peak during, and after a forced GC, prints them, and checks
 * the structural bounds and a ceiling on what the server keeps.
 *
 * Figures: pnpm exec vitest run --project board-adapter-gpio remote-flood
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BOARD_PROTOCOL } from '../src/index.js';
import { waitFor } from './helpers.js';
import { bundleForNode } from './node-bundle.js';

const TOKEN = 'flood-token';
/**
 * JS heap + external the server may keep after GC, above where it started
 * (MB): what a flood leaves behind. RSS is printed, not checked: it does not
 * fall back after GC (the allocator keeps freed pages), so it reflects the
 * peak, which depends on when the GC ran. An absolute RSS ceiling of 250 MB
 * failed on Node 24 under load at 258 MB with the heap back where it started.
 */
const HEAP_GROWTH_MB = 8;

interface Sample {
  readonly rssMb: number;
  readonly heapMb: number;
  readonly fds: number;
  readonly connections: number;
  readonly boards: number;
  readonly readings: number;
}

interface Figures {
  before: Sample;
  peak: Sample;
  after: Sample;
}

let child: ChildProcess;
let port: number;
let dir: string;
const waiting: Array<(s: Sample) => void> = [];
let closedIn: ((closed: { ms: number; connections: number }) => void) | undefined;
let shutdownNote = '';

function ask(type: 'sample' | 'gc'): Promise<Sample> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    child.send({ type });
  });
}

const report: Array<[string, Figures, string]> = [];

/** Run `flood`, polling the server every 25 ms for the peak. */
async function measure(name: string, flood: () => Promise<string>): Promise<Figures> {
  const before = await ask('gc');
  let peak = before;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const now = await ask('sample');
      peak = {
        ...now,
        rssMb: Math.max(peak.rssMb, now.rssMb),
        heapMb: Math.max(peak.heapMb, now.heapMb),
        fds: Math.max(peak.fds, now.fds),
      };
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  let note: string;
  try {
    note = await flood();
  } finally {
    polling = false;
    await poller;
  }
  await waitFor(async () => (await ask('sample')).connections === 0, 'every flooding socket closed', 30_000);
  const after = await ask('gc');
  const figures = { before, peak, after };
  report.push([name, figures, note]);
  return figures;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'boardcast-flood-'));
  const outfile = join(dir, 'server.mjs');
  await bundleForNode(fileURLToPath(new URL('./remote-flood.server.ts', import.meta.url)), outfile);
  child = fork(outfile, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  port = await new Promise<number>((resolve) => {
    child.on('message', (msg: { type: string; port?: number; sample?: Sample; ms?: number; connections?: number }) => {
      if (msg.type === 'port') resolve(msg.port as number);
      else if (msg.type === 'sample') waiting.shift()?.(msg.sample as Sample);
      else if (msg.type === 'closed') closedIn?.({ ms: msg.ms as number, connections: msg.connections as number });
    });
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ type: 'close' });
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  const n = (v: number) => v.toFixed(1).padStart(6);
  const i = (v: number) => String(v).padStart(4);
  console.log(
    [
      'flood (server process)     RSS MB before/peak/afterGC   heap+ext MB before/peak/afterGC   fds before/peak/after',
      ...report.map(
        ([name, f, note]) =>
          `${name.padEnd(26)} ${n(f.before.rssMb)} ${n(f.peak.rssMb)} ${n(f.after.rssMb)}      ${n(f.before.heapMb)} ${n(f.peak.heapMb)} ${n(f.after.heapMb)}      ${i(f.before.fds)} ${i(f.peak.fds)} ${i(f.after.fds)}   ${note}`,
      ),
      shutdownNote,
    ].join('\n'),
  );
});

function check(f: Figures): void {
  expect(f.after.heapMb - f.before.heapMb).toBeLessThan(HEAP_GROWTH_MB);
  expect(f.after.fds - f.before.fds).toBeLessThan(3);
}

function connect(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/board`, BOARD_PROTOCOL, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    ws.on('error', () => undefined);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
  });
}

function nextFrame(ws: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      if (frame.type !== type) return;
      ws.off('message', onMessage);
      resolve(frame);
    };
    ws.on('message', onMessage);
  });
}

function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(0);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** `n` tasks, `concurrency` at a time. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

const hello = (id: string, sensors: string[] = []) =>
  JSON.stringify({ type: 'hello', id, firmware: 'flood', pins: [{ pin: 1, modes: ['input'] }], sensors });

/** Say hello on `ws` as board `id` and wait for the welcome. */
async function welcomeAs(ws: WebSocket, id: string): Promise<WebSocket> {
  const welcome = nextFrame(ws, 'welcome');
  ws.send(hello(id));
  await welcome;
  return ws;
}

/** Stop reading, as an attacker does: everything the server sends now stays in its buffers (or is not sent at all). */
function stopReading(ws: WebSocket): void {
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
}

// Floods take seconds on a shared 2-core machine; the bound is on memory, not time.
describe('board-link floods keep memory and descriptors bounded', { timeout: 90_000 }, () => {
  it('3,000 hellos with new board ids', async () => {
    const f = await measure('new ids x3000', async () => {
      let welcomed = 0;
      await pool(3000, 20, async (i) => {
        const ws = await welcomeAs(await connect(), `flood-${i}`);
        welcomed++;
        const done = closed(ws);
        ws.close();
        await done;
      });
      return `${welcomed} welcomed, ${(await ask('sample')).boards} boards kept`;
    });
    expect(f.after.boards).toBeLessThanOrEqual(64);
    check(f);
  });

  it('60,000 readings with new sensor names', async () => {
    let errors = 0;
    const f = await measure('new sensor names x60k', async () => {
      await pool(300, 10, async (i) => {
        const ws = await connect();
        ws.on('message', (data) => {
          if (String(data).includes('"error"')) errors++;
        });
        const welcome = nextFrame(ws, 'welcome');
        ws.send(hello(`sensors-${i % 20}`, ['light']));
        const first = await Promise.race([welcome, closed(ws).then(() => undefined)]);
        if (first === undefined) return; // refused (that id is still connected): fine
        const done = closed(ws);
        for (let k = 0; k < 200 && ws.readyState === WebSocket.OPEN; k++) {
          ws.send(JSON.stringify({ type: 'reading', sensor: `s-${i}-${k}`, value: k }));
        }
        ws.close();
        await done;
      });
      return `${errors} error frames, ${(await ask('sample')).readings} readings kept`;
    });
    expect(f.after.readings).toBe(0);
    expect(errors).toBeGreaterThan(0);
    check(f);
  });

  it('16 KB pings from agents that never read', async () => {
    const f = await measure('unread 16KB pings', async () => {
      const big = JSON.stringify({ type: 'ping', t: 'x'.repeat(16_000) });
      const codes: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const ws = await welcomeAs(await connect(), `pinger-${i}`);
          stopReading(ws);
          const done = closed(ws);
          for (let k = 0; k < 1000 && ws.readyState === WebSocket.OPEN; k++) {
            ws.send(big);
            if (k % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
          }
          // The rate limit closes it; a paused socket does not see the close
          // frame, so stop waiting after a while and cut it from this side.
          const timer = setTimeout(() => ws.terminate(), 5000);
          codes.push(await done);
          clearTimeout(timer);
        }),
      );
      return `close codes ${[...new Set(codes)].join(',')}`;
    });
    // 20 × 1,000 × 16 KB went in; echoed without the send-buffer bound and
    // the ping-token cap it would be ~320 MB of pongs held for unread sockets.
    // The peak also holds the received frames not yet collected, which depends
    // on the GC: one clean-clone CI run saw 63 MB on Node 20, 76 MB on 22 and
    // 134 MB on 24 (36 MB on its retry). 200 MB still tells the bounded server
    // from the unbounded one.
    expect(f.peak.heapMb).toBeLessThan(200);
    check(f);
  });

  it('invalid UTF-8 frames', async () => {
    let errors = 0;
    const f = await measure('invalid UTF-8 x10k', async () => {
      const bad = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
      await pool(500, 10, async (i) => {
        const ws = await connect();
        ws.on('message', (data) => {
          if (String(data).includes('not valid UTF-8')) errors++;
        });
        const welcome = nextFrame(ws, 'welcome');
        ws.send(hello(`utf8-${i % 30}`));
        const ok = await Promise.race([welcome, closed(ws).then(() => undefined)]);
        if (ok === undefined) return;
        const done = closed(ws);
        for (let k = 0; k < 20 && ws.readyState === WebSocket.OPEN; k++) ws.send(bad, { binary: false });
        await new Promise((resolve) => setTimeout(resolve, 5));
        ws.close();
        await done;
      });
      return `${errors} error frames`;
    });
    expect(errors).toBeGreaterThan(0);
    check(f);
  });

  it('shutdown: link.close() with 50 boards, 10 of which never read, ends with every socket cut (closeTimeoutMs 1 s)', async () => {
    const polite = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const ws = await connect();
        ws.on('message', (data) => {
          const msg = JSON.parse(String(data)) as { id?: number; type: string };
          if (msg.id !== undefined) {
            const value = msg.type === 'snapshot' ? { pins: {}, analog: {}, sensors: {} } : 0;
            ws.send(JSON.stringify({ type: 'result', id: msg.id, ok: true, value }));
          }
        });
        return welcomeAs(ws, `polite-${i}`);
      }),
    );
    const deaf = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const ws = await welcomeAs(await connect(), `deaf-${i}`);
        stopReading(ws);
        return ws;
      }),
    );
    const codes = Promise.all(polite.map((ws) => closed(ws)));
    // close() resolves although ten boards never read the close frame: the
    // server cuts them after closeTimeoutMs instead of waiting for ever (a
    // close() that waited would fail this test by its timeout). How long it
    // took is reported, not asserted (no bound on wall time on a shared machine).
    const { ms, connections } = await new Promise<{ ms: number; connections: number }>((resolve) => {
      closedIn = resolve;
      child.send({ type: 'shutdown' });
    });
    expect(new Set(await codes)).toEqual(new Set([1001]));
    expect(connections).toBe(0);
    for (const ws of deaf) ws.terminate();
    shutdownNote = `link.close() with 50 boards + 10 that never read: ${Math.round(ms)} ms (closeTimeoutMs 1000)`;
  });
});
