/**
 * The server side of the board link under the faults a field board meets:
 * late answers, duplicate ids, wall-clock steps, silent links, floods of
 * requests, foreign tokens, bad bytes. Real sockets on 127.0.0.1, the real
 * agent under python3 where it runs, otherwise `BoardDouble` (as strict as
 * the agent: one request at a time, deadlines checked before acting).
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BoardcastError, createHub, defineContract, type Hub, typed } from '@boardcast/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { pythonPath } from '../../../test-support/system.js';
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js';
import {
  attachBoardLink,
  BOARD_PROTOCOL,
  type BoardLink,
  type BoardLinkOptions,
  bindLed,
  Led,
  ledCommand,
  type RemoteBoard,
} from '../src/index.js';
import type { BoardRejection } from '../src/remote/board-link.js';
import { type AgentProcess, cleanupTemp, closeServer, listen, newServer, startSimAgent, waitFor } from './helpers.js';
import { BoardDouble, type DoubleOptions, framesOf, rawBoardSocket } from './remote-double.js';

const TOKEN = 'link-token-1';

const contract = defineContract({
  commands: { led: ledCommand },
  events: { led: typed<{ on: boolean }>() },
  state: typed<{ led: { on: boolean } }>(),
  reducers: { led: (state, led) => ({ ...state, led }) },
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const fn of cleanups.splice(0).reverse()) await fn();
  cleanupTemp();
});

interface Rig {
  server: Server;
  link: BoardLink;
  port: number;
  board: RemoteBoard;
  rejections: BoardRejection[];
  connects: string[];
  disconnects: string[];
}

async function startLink(options: Partial<BoardLinkOptions> = {}, boardId = 'esp'): Promise<Rig> {
  const server = newServer();
  const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 1000, ...options });
  const port = await listen(server);
  const rejections: BoardRejection[] = [];
  const connects: string[] = [];
  const disconnects: string[] = [];
  link.on('reject', (r) => rejections.push(r));
  link.on('connect', (b) => connects.push(b.id));
  link.on('disconnect', (b, reason) => disconnects.push(`${b.id}: ${reason}`));
  cleanups.push(async () => {
    await link.close();
    await closeServer(server);
  });
  return { server, link, port, board: link.board(boardId), rejections, connects, disconnects };
}

/** A hub whose `led` command drives a `Led` on the rig's board, as an app writes it. */
function ledHub(board: RemoteBoard): { hub: Hub<typeof contract>; led: Led } {
  const hub = createHub(contract, { state: { led: { on: false } }, commandTimeoutMs: 5000 });
  const led = new Led(board, 5);
  bindLed(hub, led);
  cleanups.push(async () => {
    led.close();
    await hub.close();
  });
  return { hub, led };
}

function double(rig: Rig, options: Partial<DoubleOptions> = {}): BoardDouble {
  const d = new BoardDouble({ port: rig.port, token: TOKEN, id: 'esp', ...options });
  cleanups.push(() => d.close());
  return d;
}

function agentFor(port: number, extra: Record<string, unknown> = {}): AgentProcess {
  const agent = startSimAgent(port, 'esp', TOKEN, extra);
  cleanups.push(() => agent.kill());
  return agent;
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(port);
  cleanups.push(() => proxy.close());
  return proxy;
}

const rawSocket = (port: number, token = TOKEN): WebSocket => rawBoardSocket(port, token, (fn) => cleanups.push(fn));

const opened = (ws: WebSocket) => new Promise<void>((resolve) => ws.once('open', () => resolve()));
const closedWith = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
const hello = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'hello', id, firmware: 'raw', pins: [{ pin: 5, modes: ['output'] }], ...extra });

describe('late commands: the hub shows the level the board has', () => {
  it('a write answered after its timeout (an agent that ignores deadlines) updates the LED state', async () => {
    const rig = await startLink({ requestTimeoutMs: 300 });
    const { hub } = ledHub(rig.board);
    const d = double(rig, { ignoreDeadlines: true, writeDelayMs: 700 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    const levels: string[] = [];
    rig.board.on('level', (e) => levels.push(`${e.pin}=${e.value} ${e.cause}`));
    const result = await hub.dispatch('led', { state: 'on' });
    expect(result.ok ? 'ok' : result.error.code).toBe('timeout');
    expect(hub.state.led.on).toBe(false);
    await waitFor(() => d.levels['5'] === 1, 'the board executed the write late');
    await waitFor(() => hub.state.led.on === true, 'the late result reaches the hub state');
    expect(levels).toContain('5=1 late');
  });

  it('a write whose answer is lost: the pin is read again and the hub shows the real level', async () => {
    const rig = await startLink({ requestTimeoutMs: 300 });
    const { hub } = ledHub(rig.board);
    const d = double(rig);
    await waitFor(() => rig.board.status === 'online', 'board online');
    d.loseWriteAnswers = 1;
    const result = await hub.dispatch('led', { state: 'on' });
    expect(result.ok ? 'ok' : result.error.code).toBe('timeout');
    expect(d.levels['5']).toBe(1);
    await waitFor(() => hub.state.led.on === true, 're-read level reaches the hub state');
    expect(d.executed.filter((e) => e.type === 'read').length).toBeGreaterThan(0);
  });

  it.skipIf(!pythonPath)(
    'real agent, link stalled past the timeout: afterwards the hub shows what the board has',
    async () => {
      const rig = await startLink({ requestTimeoutMs: 800, heartbeatMs: 2000 });
      const { hub } = ledHub(rig.board);
      const proxy = await proxyTo(rig.port);
      agentFor(proxy.port);
      await waitFor(() => rig.board.status === 'online', 'board online');
      await waitFor(() => hub.state.led.on === false, 'initial level');
      proxy.stall();
      const result = await hub.dispatch('led', { state: 'on' });
      expect(result.ok ? 'ok' : result.error.code).toBe('timeout');
      proxy.resume(); // after ~0.8 s of a 4 s offline limit: still the same connection
      // Either the agent honours the deadline (no write) or executes it late:
      // whatever it did, the hub ends up with the board's level.
      const truth = async () => ((await rig.board.digitalRead(5)) === 1) === hub.state.led.on;
      await waitFor(truth, 'hub state equals the board level', 8000);
      expect(rig.disconnects).toEqual([]);
    },
  );
});

describe('liveness on a monotonic clock', () => {
  it('+60 s wall-clock steps do not disconnect a healthy board, even one quiet for half the limit', async () => {
    // A 4 s limit (1 s heartbeats, 4 missed). Each round: a frame from the
    // board, the wall clock jumps +60 s, then 2 s of quiet, so a liveness
    // check often falls into the quiet time with a pre-jump frame behind it;
    // measured on the wall clock that reads as 60 s of silence. 2 s of slack
    // for timers that run late on a loaded machine (the old 1.3 s of quiet
    // against a 2 s limit failed under load); quiet time is waited for, never
    // asserted as an upper bound.
    const rig = await startLink({ heartbeatMs: 1000, missedHeartbeats: 4 });
    const d = double(rig, { heartbeatMs: 1000 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    // Date keeps running between the jumps (a frozen Date would make every
    // silence 0 on the wall clock and hide the bug this test is for).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const pongs = () => d.frames.filter((f) => f.type === 'pong').length;
    for (let round = 0; round < 6 && rig.disconnects.length === 0; round++) {
      // The board speaks and the server has seen it (its pong came back) before the jump.
      const seen = pongs();
      d.speak();
      await waitFor(() => pongs() > seen, 'the server answered the ping');
      d.silent = true;
      vi.setSystemTime(Date.now() + 60_000);
      const quietUntil = performance.now() + 2000;
      await waitFor(() => performance.now() > quietUntil || rig.disconnects.length > 0, 'quiet time');
    }
    d.speak();
    expect(rig.disconnects).toEqual([]);
    expect(rig.board.status).toBe('online');
  });

  it.skipIf(!pythonPath)(
    'real agent behind a silent link (stall, no FIN): offline within two heartbeat periods',
    async () => {
      const heartbeatMs = 1500;
      const rig = await startLink({ heartbeatMs });
      const proxy = await proxyTo(rig.port);
      agentFor(proxy.port);
      await waitFor(() => rig.board.status === 'online', 'board online');
      const offline = new Promise<void>((resolve) => rig.board.on('status', (s) => s === 'offline' && resolve()));
      proxy.stall();
      await offline;
      // Offline by the liveness timer (two heartbeats of silence, measured on
      // the monotonic clock by the link itself), not by a FIN that never came.
      // How late the timer fires on a loaded machine is not asserted: timing
      // belongs in bench/, not in a test.
      const silent = Number(/no frame for (\d+) ms \(2 heartbeats\)/.exec(rig.disconnects[0] ?? '')?.[1]);
      expect(silent).toBeGreaterThanOrEqual(2 * heartbeatMs);
    },
  );
});

describe('duplicate board ids', () => {
  it('a second claimant of a live board is refused with board_conflict and 4409; the first keeps the board', async () => {
    const rig = await startLink();
    const first = double(rig);
    await waitFor(() => rig.board.status === 'online', 'first online');
    const second = double(rig);
    const { code } = await second.closed;
    expect(code).toBe(4409);
    expect(second.errors()).toEqual(['board_conflict']);
    expect(second.welcomed).toBe(false);
    expect(rig.rejections.map((r) => [r.error.code, r.boardId])).toEqual([['board_conflict', 'esp']]);
    expect(rig.rejections[0]?.error.message).toContain('already connected');
    expect(rig.board.status).toBe('online');
    expect(rig.connects).toEqual(['esp']);
    expect(await rig.board.digitalWrite(5, 1)).toBe(1);
    expect(first.levels['5']).toBe(1);
  });

  it('a board whose first connection missed its heartbeats is taken over by the new one (a reboot)', async () => {
    const rig = await startLink({ heartbeatMs: 400, missedHeartbeats: 5 });
    const first = double(rig, { heartbeatMs: 400 });
    await waitFor(() => rig.board.status === 'online', 'first online');
    first.silent = true; // half-open: the board rebooted
    const quietSince = performance.now();
    await waitFor(() => performance.now() - quietSince > 700, 'more than 1.5 periods of silence');
    const second = double(rig, { heartbeatMs: 400 });
    await waitFor(() => second.welcomed, 'the new connection is accepted');
    expect((await first.closed).code).toBe(4000);
    await waitFor(() => rig.board.status === 'online', 'online on the new connection');
    expect(rig.rejections).toEqual([]);
  });

  it.skipIf(!pythonPath)('two real agents with one id: no flapping, the refusal is reported', async () => {
    const rig = await startLink({ heartbeatMs: 500 });
    const statuses: string[] = [];
    rig.board.on('status', (s) => statuses.push(s));
    const first = agentFor(rig.port);
    await waitFor(() => rig.board.status === 'online', 'first online');
    const second = agentFor(rig.port); // same id, same token
    await waitFor(() => rig.rejections.length >= 1, 'the second agent refused');
    // The refused agent says why (and, with the agent side's fix, backs off instead of retrying at once).
    await second.waitForLine(/board_conflict/);
    const until = performance.now() + 2000;
    await waitFor(() => performance.now() > until, 'two more seconds');
    expect(rig.connects).toEqual(['esp']);
    expect(statuses.filter((s) => s === 'offline')).toEqual([]);
    expect(new Set(rig.rejections.map((r) => r.error.code))).toEqual(new Set(['board_conflict']));
    first.send('press 0');
    await waitFor(async () => (await rig.board.digitalRead(0)) === 0, 'the first agent still drives the board');
  });
});

describe.skipIf(!pythonPath)('a board reset behind a half-open socket', () => {
  it('regression: the rebooted agent is online again within a few heartbeats, not after the 30 s conflict backoff', async () => {
    const rig = await startLink({ heartbeatMs: 1000 });
    const proxy = await proxyTo(rig.port);
    agentFor(proxy.port, { heartbeat_ms: 1000 });
    await waitFor(() => rig.board.status === 'online', 'first life online');
    // The new boot dials through a second proxy that holds its upgrade until
    // the moment of the reset, so its hello reaches the server while the old
    // socket is still live, however slowly python starts on a loaded machine
    // (started after the reset, it came after the server had already dropped
    // the silent socket, and no conflict happened at all).
    const held = await proxyTo(rig.port);
    held.stall();
    const after = agentFor(held.port, { heartbeat_ms: 1000 }); // same id, same token, a new boot
    await waitFor(() => held.connections === 1, 'the new boot dialled', 60_000);
    // A reset: no FIN reaches the server, the old socket just goes silent (the stalled proxy; the old
    // process, cut off behind it, stands for the board's previous life and can reach no one).
    proxy.stall();
    held.resume();
    const conflict = await after.waitForLine(/board_conflict/, 30_000);
    expect(rig.rejections.map((r) => r.error.code)).toEqual(['board_conflict']);
    // The decision, not the wall time: the first conflict after boot retries
    // after two heartbeats (+ up to 25 % jitter), not the 30 s backoff. How
    // soon it is online on a loaded machine is waited for, not asserted.
    const retryMs = Number(/retry in (\d+) ms/.exec(conflict)?.[1]);
    expect(retryMs).toBeGreaterThanOrEqual(2000);
    expect(retryMs).toBeLessThanOrEqual(2500);
    await waitFor(() => rig.connects.length === 2 && rig.board.status === 'online', 'second life online', 60_000);
    expect(after.lines.filter((l) => /board_conflict/.test(l))).toEqual([
      expect.stringMatching(/id 'esp' is still held/),
    ]);
  }, 120_000);
});

describe('credentials bound to boards', () => {
  it("a board's token cannot claim another board; its own id works", async () => {
    const rig = await startLink({
      token: [{ token: 'tok-a', boards: 'esp-a' }, { token: 'tok-b', boards: ['esp-b'] }, { token: 'shared-admin' }],
    });
    const a = rig.link.board('esp-a');
    const thief = double(rig, { token: 'tok-b', id: 'esp-a' });
    expect((await thief.closed).code).toBe(1008);
    expect(thief.errors()).toEqual(['forbidden']);
    expect(a.status).toBe('offline');
    expect(rig.rejections.map((r) => [r.error.code, r.boardId])).toEqual([['forbidden', 'esp-a']]);
    double(rig, { token: 'tok-a', id: 'esp-a' });
    await waitFor(() => a.status === 'online', 'own token works');
    double(rig, { token: 'shared-admin', id: 'esp-c' });
    await waitFor(() => rig.link.boards.some((b) => b.id === 'esp-c' && b.status === 'online'), 'shared token');
    const wrong = rawSocket(rig.port, 'tok-x');
    expect(await new Promise((resolve) => wrong.on('unexpected-response', (_q, res) => resolve(res.statusCode)))).toBe(
      401,
    );
  });

  it('regression: the Bearer scheme is case-insensitive; the token itself is not', async () => {
    const rig = await startLink();
    const status = (authorization: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${rig.port}/board`, BOARD_PROTOCOL, { headers: { authorization } });
        ws.on('error', () => undefined);
        ws.on('open', () => {
          resolve(101);
          ws.terminate();
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      });
    expect(await status(`bearer ${TOKEN}`)).toBe(101);
    expect(await status(`BEARER\t${TOKEN}`)).toBe(101);
    expect(await status(`Bearer ${TOKEN.toUpperCase()}`)).toBe(401);
    expect(await status(`Basic ${TOKEN}`)).toBe(401);
  });

  it('regression: a refused agent that sends a burst of hellos is refused once (one reject event, one error frame)', async () => {
    const rig = await startLink({ token: [{ token: 'tok-b', boards: 'esp-b' }] });
    const ws = rawSocket(rig.port, 'tok-b');
    const frames = framesOf(ws);
    await opened(ws);
    const closed = closedWith(ws);
    for (let i = 0; i < 50; i++) ws.send(hello('esp-a')); // one burst: all in before the server's close
    expect(await closed).toBe(1008);
    expect(rig.rejections.map((r) => r.error.code)).toEqual(['forbidden']);
    expect(frames.map((f) => f.type)).toEqual(['error']);
  });

  it('a check function may bind a token to a set of ids', async () => {
    const rig = await startLink({ token: (token) => (token === 'fn-tok' ? ['esp-x'] : false) });
    const other = double(rig, { token: 'fn-tok', id: 'esp-y' });
    expect((await other.closed).code).toBe(1008);
    double(rig, { token: 'fn-tok', id: 'esp-x' });
    await waitFor(() => rig.link.boards.some((b) => b.id === 'esp-x' && b.status === 'online'), 'bound id');
  });
});

/**
 * No write ran after its command was answered: each executed write belongs to
 * a distinct command answered no earlier than it ran, so for every time τ at
 * least as many commands were answered at or after τ as writes ran at or
 * after τ (a matching exists, Hall). It does not ask that only commands
 * answered ok ran: a write that ran in time but whose answer reached the
 * server after its deadline is a late answer, which the server is built to
 * take (the level is learned, cause 'late'); on a loaded machine the margin
 * before the server's deadline (deadlineMarginMs) does not always cover the
 * way back.
 */
function expectNoneRanAfterItsAnswer(ran: readonly number[], answered: readonly number[]): void {
  const writes = [...ran].sort((a, b) => b - a);
  const answers = [...answered].sort((a, b) => b - a);
  writes.forEach((at, i) => {
    const answeredSince = answers.filter((t) => t >= at).length;
    expect(
      answeredSince,
      `${i + 1} writes ran at or after ${at.toFixed(1)} ms, ${answeredSince} commands were answered since`,
    ).toBeGreaterThanOrEqual(i + 1);
  });
}

/** Dispatch and note when the answer came (performance.now(), the clock BoardDouble's realAt uses). */
async function timed<T>(p: Promise<T>, answered: number[]): Promise<T> {
  const result = await p;
  answered.push(performance.now());
  return result;
}

describe('500 concurrent commands to a slow board', () => {
  it('timed-out commands are never executed; beyond the queue bound: too_many_requests', async () => {
    const rig = await startLink({ requestTimeoutMs: 5000, maxInFlight: 4, maxQueuedRequests: 32 });
    const d = double(rig, { writeDelayMs: 20 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    const hub = createHub(contract, { state: { led: { on: false } }, commandTimeoutMs: 600 });
    cleanups.push(() => hub.close());
    hub.handle('led', async ({ state }, context) => {
      const level = await rig.board.digitalWrite(5, state === 'on' ? 1 : 0, {
        signal: context.signal,
        deadline: context.deadline,
      });
      return { on: level === 1 };
    });
    const answered: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => timed(hub.dispatch('led', { state: i % 2 ? 'on' : 'off' }), answered)),
    );
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
    const count = (code: string) => codes.filter((c) => c === code).length;
    expect(count('ok') + count('timeout') + count('too_many_requests')).toBe(500);
    // The 500 handlers run in one turn of the event loop, before any answer
    // can free a slot: at most 4 in flight + 32 queued are taken, the rest
    // refused at once — too_many_requests, or timeout when the request's
    // deadline had already passed before it was queued (a starved machine
    // took ~600 ms for that turn once: 155 refused, the rest late).
    expect(count('too_many_requests')).toBeGreaterThan(0);
    expect(count('too_many_requests')).toBeLessThanOrEqual(500 - 4 - 32);
    // The board does one 20 ms write at a time, so at most 30 of the 36
    // finish within the 600 ms timeout however fast the machine: some time
    // out. How many finish in time is the machine's business (a loaded one
    // may finish none): the invariants below hold for any split.
    expect(count('timeout')).toBeGreaterThanOrEqual(36 - 30);
    // Let everything the board still had settle (every request it received
    // executed or dropped), then compare.
    const settle = performance.now() + 1500;
    await waitFor(() => performance.now() > settle && d.idle, 'the board to drain', 30_000);
    const writes = d.executed.filter((e) => e.type === 'write');
    const droppedWrites = d.dropped.filter((e) => e.type === 'write');
    // Every command answered ok ran; none ran after it was answered (a
    // command answered timeout may have run just before, see above); and the
    // board acted only before the deadline it was given.
    expect(writes.length).toBeGreaterThanOrEqual(count('ok'));
    expectNoneRanAfterItsAnswer(
      writes.map((w) => w.realAt),
      answered,
    );
    for (const w of writes) expect(w.at).toBeLessThanOrEqual(w.deadline);
    // Refused commands never reached the board, nor more than the bound.
    expect(writes.length + droppedWrites.length).toBeLessThanOrEqual(count('ok') + count('timeout'));
    expect(d.frames.filter((f) => f.type === 'write').length).toBeLessThanOrEqual(4 + 32);
    // And the link is not wedged: a command after the flood is answered ok
    // (retried: on a loaded machine one round trip may outlast 600 ms).
    await waitFor(async () => (await hub.dispatch('led', { state: 'on' })).ok, 'a command after the flood', 30_000);
  }, 90_000); // waits: online 10 s, drain 30 s, the command after 30 s

  it('the app path (Led + bindLed): 500 concurrent toggles, none executed after it answered timeout', async () => {
    const rig = await startLink({ requestTimeoutMs: 5000 });
    const d = double(rig, { writeDelayMs: 20 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    const hub = createHub(contract, { state: { led: { on: false } }, commandTimeoutMs: 400 });
    const led = new Led(rig.board, 5);
    bindLed(hub, led);
    cleanups.push(async () => {
      led.close();
      await hub.close();
    });
    await led.ready;
    const answered: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 500 }, () => timed(hub.dispatch('led', { state: 'toggle' }), answered)),
    );
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
    const count = (code: string) => codes.filter((c) => c === code).length;
    expect(count('too_many_requests')).toBeGreaterThan(0);
    expect(count('ok') + count('timeout') + count('too_many_requests')).toBe(500);
    const settle = performance.now() + 1500;
    await waitFor(() => performance.now() > settle && d.idle, 'the board to drain', 30_000);
    const writes = d.executed.filter((e) => e.type === 'write');
    expect(writes.length).toBeGreaterThanOrEqual(count('ok'));
    expect(writes.length).toBeLessThanOrEqual(count('ok') + count('timeout'));
    expectNoneRanAfterItsAnswer(
      writes.map((w) => w.realAt),
      answered,
    );
    // The hub shows what the board has.
    await waitFor(() => hub.state.led.on === (d.levels['5'] === 1), 'hub state equals the board level');
    await waitFor(async () => (await hub.dispatch('led', { state: 'toggle' })).ok, 'a toggle after the flood', 30_000);
  }, 110_000); // waits: online 10 s, led.ready (two requests) 10 s, drain 30 s, state 10 s, the toggle after 30 s

  it('a request whose signal aborts while queued is never sent', async () => {
    const rig = await startLink({ maxInFlight: 1 });
    const d = double(rig, { writeDelayMs: 200 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    const before = d.frames.filter((f) => f.type === 'write').length;
    const first = rig.board.digitalWrite(5, 1);
    const controller = new AbortController();
    const second = rig.board.digitalWrite(5, 0, { signal: controller.signal });
    controller.abort(new BoardcastError('timeout', 'client went away'));
    await expect(second).rejects.toMatchObject({ code: 'timeout', message: 'client went away' });
    expect(await first).toBe(1);
    expect(d.frames.filter((f) => f.type === 'write').length - before).toBe(1);
    const aborted = new AbortController();
    aborted.abort(new BoardcastError('timeout', 'already'));
    await expect(rig.board.digitalWrite(5, 0, { signal: aborted.signal })).rejects.toMatchObject({ code: 'timeout' });
    await expect(rig.board.digitalWrite(5, 0, { deadline: performance.now() - 1 })).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(d.frames.filter((f) => f.type === 'write').length - before).toBe(1);
  });

  it('requests carry a deadline on the server clock, and welcome/ping/pong carry now', async () => {
    const rig = await startLink({ heartbeatMs: 200, requestTimeoutMs: 2000 });
    const d = double(rig, { heartbeatMs: 100 });
    await waitFor(() => rig.board.status === 'online', 'board online');
    const sentAt = performance.now();
    await rig.board.digitalWrite(5, 1, { deadline: sentAt + 1000 });
    const write = d.frames.find((f) => f.type === 'write') as { deadline: number };
    expect(write.deadline).toBeGreaterThan(sentAt + 700);
    expect(write.deadline).toBeLessThanOrEqual(sentAt + 1000);
    // Whole ms: MicroPython on the ESP32 parses JSON floats as single precision.
    expect(Number.isInteger(write.deadline)).toBe(true);
    await waitFor(() => d.frames.some((f) => f.type === 'ping') && d.frames.some((f) => f.type === 'pong'), 'beats');
    for (const type of ['welcome', 'ping', 'pong']) {
      const frame = d.frames.find((f) => f.type === type) as { now?: unknown };
      expect(Number.isInteger(frame.now)).toBe(true);
    }
  });
});

describe('bounds and bad input', () => {
  it('invalid UTF-8 is answered with an error frame and the board stays connected', async () => {
    const rig = await startLink();
    const ws = rawSocket(rig.port);
    const frames = framesOf(ws);
    await opened(ws);
    ws.send(hello('esp'));
    await waitFor(() => rig.board.status === 'online' || frames.some((f) => f.type === 'welcome'), 'hello accepted');
    ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    await waitFor(() => frames.some((f) => f.type === 'error'), 'error frame');
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      error: { code: 'invalid_payload', message: 'frame is not valid UTF-8' },
    });
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a hello whose firmware, pin or sensor names carry control characters is refused (they reach log lines)', async () => {
    const rig = await startLink();
    for (const extra of [
      { firmware: 'x\nboard connect    esp32 (forged)' },
      { pins: [{ pin: 5, modes: ['output'], name: 'led\r' }] },
      { sensors: ['light\u2028'] },
    ]) {
      const ws = rawSocket(rig.port);
      const frames = framesOf(ws);
      await opened(ws);
      ws.send(hello('ctl', extra));
      await waitFor(() => frames.some((f) => f.type === 'error'), 'error frame');
      expect(frames[0]).toMatchObject({ type: 'error', error: { code: 'invalid_payload' } });
      expect(rig.link.boards.map((b) => b.id)).toEqual(['esp']);
    }
  });

  it('too many pins or sensors in hello → payload_too_large; readings for unannounced sensors → unsupported', async () => {
    const rig = await startLink({ maxPinsPerBoard: 2, maxSensorsPerBoard: 1 });
    const big = rawSocket(rig.port);
    const bigFrames = framesOf(big);
    await opened(big);
    const close = closedWith(big);
    big.send(hello('big', { pins: [0, 1, 2].map((pin) => ({ pin, modes: ['input'] })) }));
    expect(await close).toBe(1009);
    expect(bigFrames.map((f) => (f.error as { code?: string } | undefined)?.code)).toEqual(['payload_too_large']);

    const ws = rawSocket(rig.port);
    const frames = framesOf(ws);
    await opened(ws);
    ws.send(hello('sens', { sensors: ['light'] }));
    await waitFor(() => frames.some((f) => f.type === 'welcome'), 'welcome');
    ws.send(JSON.stringify({ type: 'reading', sensor: 'light', value: 1 }));
    ws.send(JSON.stringify({ type: 'reading', sensor: 'new-0', value: 1 }));
    ws.send(JSON.stringify({ type: 'edge', pin: 77, value: 1 }));
    await waitFor(() => frames.filter((f) => f.type === 'error').length >= 2, 'errors');
    expect(frames.filter((f) => f.type === 'error').map((f) => (f.error as { code: string }).code)).toEqual([
      'unsupported',
      'unsupported',
    ]);
    const board = rig.link.boards.find((b) => b.id === 'sens') as RemoteBoard;
    expect([...board.readings.keys()]).toEqual(['light']);
  });

  it('regression: a snapshot keeps only announced pins and sensors with finite values; analog/sensor answers of 1e309 are refused', async () => {
    const rig = await startLink();
    const ws = rawSocket(rig.port);
    await opened(ws);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; id?: number };
      if (msg.id === undefined) return;
      // 1e309 is written raw: JSON.parse reads it as Infinity.
      const value =
        msg.type === 'snapshot'
          ? `{"pins":{"0":1,"77":1,"x":0},"analog":{},"sensors":{"light":1e309,"temp":21.5,${Array.from({ length: 500 }, (_, i) => `"s${i}":${i}`).join(',')}}}`
          : '1e309';
      ws.send(`{"type":"result","id":${msg.id},"ok":true,"value":${value}}`);
    });
    ws.send(
      hello('esp', {
        pins: [
          { pin: 0, modes: ['input'] },
          { pin: 34, modes: ['analog'] },
        ],
        sensors: ['light', 'temp'],
      }),
    );
    await waitFor(() => rig.board.status === 'online', 'online');
    // Before: 501 readings (made-up names, Infinity included) were kept for a hello that announced two.
    expect([...rig.board.readings.keys()]).toEqual(['temp']);
    await expect(rig.board.analogRead(34)).rejects.toMatchObject({ code: 'handler_failed' });
    await expect(rig.board.readSensor('light')).rejects.toMatchObject({ code: 'handler_failed' });
    expect(await rig.board.digitalRead(0).catch((e: BoardcastError) => e.code)).toBe('handler_failed');
  });

  it("regression: on 'connect' the board already carries this hello's firmware and pins (was the previous one's)", async () => {
    const rig = await startLink();
    const seen: string[] = [];
    rig.link.on('connect', (b) => seen.push(`${b.firmware} ${b.capabilities.pins.map((p) => p.pin).join(',')}`));
    for (const [firmware, pin] of [
      ['v1', 5],
      ['v2', 6],
    ] as const) {
      const ws = rawSocket(rig.port);
      await opened(ws);
      const closed = closedWith(ws);
      ws.send(hello('esp', { firmware, pins: [{ pin, modes: ['output'] }] }));
      await waitFor(() => seen.length > 0 && seen.at(-1)?.startsWith(firmware), `connect ${firmware}`);
      ws.close();
      await closed;
    }
    expect(seen).toEqual(['v1 5', 'v2 6']);
  });

  it('maxBoards: boards that left are forgotten (oldest first) and never more than the bound are kept', async () => {
    const rig = await startLink({ maxBoards: 3, retentionMs: 60_000 });
    // 'esp' is pinned by link.board(): it counts and is never evicted.
    for (let i = 0; i < 6; i++) {
      const ws = rawSocket(rig.port);
      const frames = framesOf(ws);
      await opened(ws);
      ws.send(hello(`flood-${i}`));
      await waitFor(() => frames.some((f) => f.type === 'welcome'), `welcome ${i}`);
      const closed = closedWith(ws);
      ws.close();
      await closed;
      await waitFor(() => rig.link.connectionCount === 0, 'socket gone');
    }
    expect(rig.link.boards.map((b) => b.id).sort()).toEqual(['esp', 'flood-4', 'flood-5']);
    // All slots taken by live boards: a new id is refused with too_many_clients.
    for (const i of [0, 1]) {
      const ws = rawSocket(rig.port);
      const frames = framesOf(ws);
      await opened(ws);
      ws.send(hello(`live-${i}`));
      await waitFor(() => frames.some((f) => f.type === 'welcome'), 'live welcome');
    }
    const extra = rawSocket(rig.port);
    const extraFrames = framesOf(extra);
    await opened(extra);
    const code = closedWith(extra);
    extra.send(hello('one-too-many'));
    expect(await code).toBe(1013);
    expect(extraFrames[0]).toMatchObject({ type: 'error', error: { code: 'too_many_clients' } });
  });

  it('maxClients: one socket too many is refused with HTTP 503 too_many_clients', async () => {
    const rig = await startLink({ maxClients: 2 });
    await opened(rawSocket(rig.port));
    await opened(rawSocket(rig.port));
    const third = rawSocket(rig.port);
    const body = await new Promise<string>((resolve) =>
      third.on('unexpected-response', (_q, res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      }),
    );
    expect(body).toMatch(/^503 .*"code":"too_many_clients"/);
    expect(rig.rejections.map((r) => r.error.code)).toEqual(['too_many_clients']);
  });

  it('maxClientsPerAddress: a second socket from one address is refused; the slot is freed when the first closes', async () => {
    const rig = await startLink({ maxClientsPerAddress: 1 });
    const first = rawSocket(rig.port);
    await opened(first);
    const second = rawSocket(rig.port);
    expect(await new Promise((resolve) => second.on('unexpected-response', (_q, res) => resolve(res.statusCode)))).toBe(
      503,
    );
    const gone = closedWith(first);
    first.close();
    await gone;
    await waitFor(() => rig.link.connectionCount === 0, 'first released');
    const third = rawSocket(rig.port);
    await opened(third);
    third.close();
    await waitFor(() => rig.link.connectionCount === 0, 'third released');
    // A handshake ws itself refuses (bad Sec-WebSocket-Version) does not keep the slot.
    const raw = connect(rig.port, '127.0.0.1');
    raw.on('error', () => undefined);
    cleanups.push(() => {
      raw.destroy();
    });
    raw.write(
      'GET /board HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 12\r\n` +
        `Sec-WebSocket-Protocol: ${BOARD_PROTOCOL}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    );
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      raw.on('data', (chunk) => {
        text += chunk.toString();
      });
      raw.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    await opened(rawSocket(rig.port));
  });

  it('boards that left are forgotten after retentionMs', async () => {
    const rig = await startLink({ retentionMs: 200 });
    const ws = rawSocket(rig.port);
    const frames = framesOf(ws);
    await opened(ws);
    ws.send(hello('visitor'));
    await waitFor(() => frames.some((f) => f.type === 'welcome'), 'welcome');
    ws.close();
    await waitFor(() => rig.link.boards.every((b) => b.id !== 'visitor'), 'visitor forgotten');
    expect(rig.link.boards.map((b) => b.id)).toEqual(['esp']);
  });

  it('pings with a 16 KB t are answered without it, and a ping flood is rate limited then closed (1013)', async () => {
    const rig = await startLink({ frameRate: { perSecond: 50, burst: 50 } });
    const ws = rawSocket(rig.port);
    const frames = framesOf(ws);
    await opened(ws);
    ws.send(hello('esp'));
    await waitFor(() => frames.some((f) => f.type === 'welcome'), 'welcome');
    ws.send(JSON.stringify({ type: 'ping', t: 'x'.repeat(16_000) }));
    await waitFor(() => frames.some((f) => f.type === 'pong'), 'pong');
    const pong = frames.find((f) => f.type === 'pong') as Record<string, unknown>;
    expect(pong.t).toBeUndefined();
    const code = closedWith(ws);
    for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ type: 'ping', t: i }));
    await waitFor(() => frames.some((f) => f.type === 'error'), 'rate error');
    expect(frames.find((f) => f.type === 'error')).toMatchObject({ error: { code: 'too_many_requests' } });
    // Still over the rate a second later → closed.
    const keepFlooding = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) for (let i = 0; i < 100; i++) ws.send('{"type":"ping"}');
    }, 50);
    cleanups.push(() => clearInterval(keepFlooding));
    expect(await code).toBe(1013);
  });
});

describe('backpressure', () => {
  it('a board that pings but never reads: pongs stop at the send-buffer bound instead of piling up in memory', async () => {
    const maxBufferedBytes = 65_536;
    const rig = await startLink({ maxBufferedBytes, frameRate: { perSecond: 1e6, burst: 1e6 } });
    const ws = rawSocket(rig.port);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; type: string };
      if (msg.id !== undefined) {
        const value = msg.type === 'snapshot' ? { pins: { 5: 0 }, analog: {}, sensors: {} } : 0;
        ws.send(JSON.stringify({ type: 'result', id: msg.id, ok: true, value }));
      }
    });
    await opened(ws);
    ws.send(hello('esp'));
    await waitFor(() => rig.board.status === 'online', 'online');
    // Stop reading: the kernel buffers fill (a few MB on loopback), then
    // everything the server still sends stays in its own memory.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const ping = JSON.stringify({ type: 'ping', t: 'p'.repeat(60) });
    let peak = 0;
    for (let i = 0; i < 200_000; i++) {
      ws.send(ping);
      if (i % 5000 === 4999) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        peak = Math.max(peak, rig.board.connection?.ws.bufferedAmount ?? 0);
      }
    }
    // 200,000 frames to parse and answer: CPU-bound, so slow on a loaded machine.
    await waitFor(
      () => rig.board.connection?.silentMs !== undefined && rig.board.connection.silentMs > 200,
      'all pings read',
      60_000,
    );
    peak = Math.max(peak, rig.board.connection?.ws.bufferedAmount ?? 0);
    // One pong (≈ 110 bytes) may cross the bound before the check sees it.
    expect(peak).toBeLessThanOrEqual(maxBufferedBytes + 200);
    expect(rig.board.status).toBe('online');
    // The default 20 s ran out at load average 20 on 2 cores (package run beside other work).
  }, 120_000);
});

describe('Host check and unhandled upgrades (shared with the other endpoints through core)', () => {
  const statusOf = (ws: WebSocket) =>
    new Promise<number>((resolve) => ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));

  it('a Host this server does not answer to is refused with 403 forbidden_host; listed and IP hosts work', async () => {
    const rig = await startLink({ allowedHosts: ['panel.lan'] });
    const rebound = new WebSocket(`ws://127.0.0.1:${rig.port}/board`, BOARD_PROTOCOL, {
      headers: { authorization: `Bearer ${TOKEN}`, host: 'rebind.example' },
    });
    rebound.on('error', () => undefined);
    cleanups.push(() => rebound.terminate());
    expect(await statusOf(rebound)).toBe(403);
    expect(rig.rejections.map((r) => r.error.code)).toEqual(['forbidden_host']);
    const listed = new WebSocket(`ws://127.0.0.1:${rig.port}/board`, BOARD_PROTOCOL, {
      headers: { authorization: `Bearer ${TOKEN}`, host: `panel.lan:${rig.port}` },
    });
    listed.on('error', () => undefined);
    cleanups.push(() => listed.terminate());
    await opened(listed);
    await opened(rawSocket(rig.port)); // Host: 127.0.0.1:<port>
  });

  it('an upgrade to a path no endpoint serves is answered 404 and closed; after close() so is the board path', async () => {
    const rig = await startLink();
    const nope = new WebSocket(`ws://127.0.0.1:${rig.port}/nope`, BOARD_PROTOCOL);
    nope.on('error', () => undefined);
    cleanups.push(() => nope.terminate());
    expect(await statusOf(nope)).toBe(404);
    await rig.link.close();
    const late = rawSocket(rig.port);
    expect(await statusOf(late)).toBe(404);
  });
});

describe('shutdown', () => {
  it('close() sends close frames and ends within the grace time even when a board does not answer', async () => {
    const rig = await startLink({ closeTimeoutMs: 500 });
    const proxy = await proxyTo(rig.port);
    const polite = double(rig, { id: 'polite' });
    const deaf = double(rig, { id: 'deaf', via: proxy.port });
    await waitFor(() => rig.link.connectionCount === 2 && polite.welcomed && deaf.welcomed, 'both connected');
    proxy.stall();
    // Ends although the deaf board never answers the close frame: it is cut
    // off after closeTimeoutMs (a hang here fails the test by its timeout).
    await rig.link.close();
    expect((await polite.closed).code).toBe(1001);
    expect(rig.link.connectionCount).toBe(0);
  });
});
