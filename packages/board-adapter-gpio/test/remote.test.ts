import type { Server } from 'node:http';
import { BoardcastError, createHub, defineContract, type Hub, typed } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { pythonPath } from '../../../test-support/system.js';
import {
  attachBoardLink,
  type BoardLink,
  Button,
  bindBoardStatus,
  bindInputs,
  bindLed,
  boardEvents,
  Led,
  ledCommand,
  type RemoteBoard,
} from '../src/index.js';
import { type AgentProcess, cleanupTemp, closeServer, listen, newServer, startSimAgent, waitFor } from './helpers.js';
import { framesOf, rawBoardSocket } from './remote-double.js';

const TOKEN = 'test-token-123';
const HEARTBEAT_MS = 1000;

type State = { led: { on: boolean }; inputs: Record<string, 0 | 1>; board: string };
const contract = defineContract({
  events: { ...boardEvents },
  commands: { led: ledCommand },
  state: typed<State>(),
  reducers: {
    led: (s: State, led: { on: boolean }) => ({ ...s, led }),
    pin_change: (s: State, c: { pin: number | string; value: 0 | 1 }) => ({
      ...s,
      inputs: { ...s.inputs, [String(c.pin)]: c.value },
    }),
    board: (s: State, c: { status: string }) => ({ ...s, board: c.status }),
  },
});

interface Rig {
  server: Server;
  link: BoardLink;
  hub: Hub<typeof contract>;
  board: RemoteBoard;
  port: number;
  led: Led;
  button: Button;
  events: string[];
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  cleanupTemp();
});

/** The few lines an app writes: server, link, hub, a Led and a Button bound to it. */
async function startRig(port = 0, boardId = 'esp'): Promise<Rig> {
  const server = newServer();
  const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: HEARTBEAT_MS, requestTimeoutMs: 3000 });
  const actualPort = await listen(server, port);
  const hub = createHub(contract, { state: { led: { on: false }, inputs: {}, board: 'offline' } });
  const board = link.board(boardId);
  const led = new Led(board, 5);
  const button = new Button(board, 0, { debounceMs: 10 });
  bindLed(hub, led);
  bindInputs(hub, [button]);
  bindBoardStatus(hub, board);
  const events: string[] = [];
  hub.subscribe((e) => events.push(`${e.event}:${e.json}`));
  const rig = { server, link, hub, board, port: actualPort, led, button, events };
  cleanups.push(async () => {
    led.close();
    button.close();
    await link.close();
    await hub.close();
    await closeServer(server);
  });
  return rig;
}

function agentFor(port: number, extra: Record<string, unknown> = {}): AgentProcess {
  const agent = startSimAgent(port, 'esp', TOKEN, { debounce_ms: 10, ...extra });
  cleanups.push(() => agent.kill());
  return agent;
}

const rawBoard = (port: number, token = TOKEN): WebSocket => rawBoardSocket(port, token, (fn) => cleanups.push(fn));

/** A hand-written board that answers requests like the agent would. */
function answerRequests(ws: WebSocket, levels: Record<string, 0 | 1>): void {
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; id?: number; pin?: number; value?: 0 | 1; t?: unknown };
    // Like the agent: every server ping is answered, which keeps the board alive.
    if (msg.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', t: msg.t }));
      return;
    }
    if (msg.id === undefined) return;
    let value: unknown = null;
    if (msg.type === 'snapshot') value = { pins: levels, analog: {}, sensors: {} };
    if (msg.type === 'read') value = levels[String(msg.pin)] ?? 0;
    if (msg.type === 'write') value = levels[String(msg.pin)] = msg.value ?? 0;
    ws.send(JSON.stringify({ type: 'result', id: msg.id, ok: true, value }));
  });
}

describe.skipIf(!pythonPath)('RemoteBoard end to end with the real agent (python3, sim backend)', () => {
  /** A rig with the agent online. */
  async function onlineRig(): Promise<{ rig: Rig; agent: AgentProcess }> {
    const rig = await startRig();
    const agent = agentFor(rig.port);
    await waitFor(() => rig.board.status === 'online', 'board online');
    return { rig, agent };
  }

  /** A rig with the agent online, its LED switched on and button 0 held pressed: state a reconnect must bring back. */
  async function litAndPressed(): Promise<{ rig: Rig; agent: AgentProcess }> {
    const { rig, agent } = await onlineRig();
    await rig.hub.call('led', { state: 'on' });
    agent.send('press 0');
    await waitFor(() => rig.hub.state.inputs['0'] === 0, 'button 0 pressed');
    return { rig, agent };
  }

  it('hello and snapshot: the board comes online with its pins, firmware and current inputs', async () => {
    const rig = await startRig();
    expect(rig.board.status).toBe('offline');
    agentFor(rig.port);
    await waitFor(() => rig.board.status === 'online', 'board online');
    expect(rig.board.firmware).toMatch(/^boardcast-agent\/\S+ cpython-3\.\d+/);
    expect(rig.board.capabilities.pins.map((p) => p.pin)).toEqual([5, 0]);
    expect(rig.board.capabilities.pins[0]).toMatchObject({ name: 'led', modes: expect.arrayContaining(['output']) });
    // Snapshot of inputs: the pulled-up button reads 1, the LED is off.
    await waitFor(() => rig.hub.state.inputs['0'] === 1, 'button state from snapshot');
    await waitFor(() => rig.led.isOn === false, 'led state read back');
    expect(rig.hub.state.board).toBe('online');
    expect(rig.button.isPressed).toBe(false);
  });

  it('a write reaches the agent and the confirmed value comes back; an input edge reaches a hub event', async () => {
    const { rig, agent } = await onlineRig();
    expect(await rig.hub.call('led', { state: 'on' })).toEqual({ on: true });
    await agent.waitForLine(/write 5 1/);
    expect(rig.hub.state.led).toEqual({ on: true });
    expect(await rig.board.digitalRead(5)).toBe(1);
    expect(await rig.hub.call('led', { state: 'toggle' })).toEqual({ on: false });
    await agent.waitForLine(/write 5 0/);

    await waitFor(() => rig.hub.state.inputs['0'] === 1, 'initial input');
    agent.send('press 0');
    await waitFor(() => rig.events.includes('pin_change:{"pin":0,"value":0}'), 'pin_change event');
    expect(rig.hub.state.inputs).toEqual({ 0: 0 });
    expect(rig.button.isPressed).toBe(true);
    agent.send('release 0');
    await waitFor(() => rig.events.includes('pin_change:{"pin":0,"value":1}'), 'release event');

    // Unsupported operations are refused with the board and pin named.
    await expect(rig.board.digitalWrite(0, 1)).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('pin 0'),
    });
    await expect(rig.board.digitalRead(17)).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('"esp" pin 17'),
    });
  });

  it('refuses a wrong token', async () => {
    const rig = await startRig();
    const errors: unknown[] = [];
    rig.link.on('reject', (r) => errors.push(r.error));
    const agent = agentFor(rig.port, { token: 'wrong' });
    await agent.waitForLine(/refused.*401/);
    expect(rig.board.status).toBe('offline');
    expect(rig.link.connectionCount).toBe(0);
    expect(errors[0]).toMatchObject({ code: 'unauthorized' });
    const ws = rawBoard(rig.port, 'also-wrong');
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('server restarted → the agent reconnects and the new server resyncs state from the board', async () => {
    const { rig: first, agent } = await litAndPressed();

    const port = first.port;
    first.led.close();
    first.button.close();
    await first.link.close();
    await closeServer(first.server);
    await agent.waitForLine(/disconnected/);
    agent.send('release 0'); // changes while no server is there

    const second = await startRig(port);
    await waitFor(() => second.board.status === 'online', 'board online on the restarted server', 15_000);
    await waitFor(() => second.led.isOn === true, 'led state resynced from the board');
    await waitFor(() => second.hub.state.inputs['0'] === 1, 'input resynced from the board');
    expect(second.hub.state.led).toEqual({ on: true });
    expect(await second.hub.call('led', { state: 'off' })).toEqual({ on: false });
  });

  it('agent killed → offline within two heartbeat periods, commands fail at once; on return watches and modes are restored', async () => {
    const { rig, agent } = await litAndPressed();

    await agent.kill();
    await waitFor(() => rig.board.status === 'offline', 'offline after kill', 2 * HEARTBEAT_MS);
    expect(rig.hub.state.board).toBe('offline');
    const result = await rig.hub.dispatch('led', { state: 'off' });
    expect(result.ok ? 'ok' : result.error.code).toBe('board_offline');
    await expect(rig.board.digitalRead(0)).rejects.toBeInstanceOf(BoardcastError);

    // A fresh agent process (a rebooted board): LED off, button released.
    const again = agentFor(rig.port);
    await waitFor(() => rig.board.status === 'online', 'back online');
    expect(rig.hub.state.inputs['0']).toBe(1); // resynced before online
    await waitFor(() => rig.led.isOn === false, 'led resynced');
    // The watch was restored: a new press still arrives.
    again.send('press 0');
    await waitFor(() => rig.hub.state.inputs['0'] === 0, 'press after restore');
  });
});

describe.skipIf(!pythonPath)('agent watchdog', () => {
  it('exits (code 3, for systemd to restart it) after watchdog_s without a server', async () => {
    const server = newServer();
    const port = await listen(server);
    await closeServer(server); // nothing listens on this port any more
    const agent = agentFor(port, { watchdog_s: 1 });
    expect(await agent.exited).toBe(3);
    await agent.waitForLine(/watchdog: no server/);
  });
});

describe('board link robustness (raw ws boards)', () => {
  it('a board that stops answering heartbeats goes offline; malformed frames get errors without hurting other boards', async () => {
    const server = newServer();
    const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 200, path: '/board' });
    // A browser endpoint on the same server keeps working.
    const browserWss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/api/ws') browserWss.handleUpgrade(req, socket, head, (ws) => ws.send('hi browser'));
    });
    const port = await listen(server);
    cleanups.push(async () => {
      await link.close();
      browserWss.close();
      await closeServer(server);
    });

    const good = rawBoard(port);
    answerRequests(good, { 1: 1 });
    const goodFrames = framesOf(good);
    await new Promise((resolve) => good.once('open', resolve));
    good.send(
      JSON.stringify({ type: 'hello', id: 'good', firmware: 'test', pins: [{ pin: 1, modes: ['input', 'output'] }] }),
    );
    const goodBoard = link.board('good');
    await waitFor(() => goodBoard.status === 'online', 'good board online');

    const bad = rawBoard(port);
    answerRequests(bad, {});
    const badFrames = framesOf(bad);
    await new Promise((resolve) => bad.once('open', resolve));
    bad.send('{"type":"edge"'); // not JSON
    await waitFor(() => badFrames.some((f) => f.type === 'error'), 'error for a frame before hello');
    bad.send(JSON.stringify({ type: 'hello', id: 'bad', pins: [{ pin: 2, modes: ['input'] }] }));
    await waitFor(() => link.board('bad').status === 'online', 'bad board online');
    bad.send('not json');
    bad.send(JSON.stringify({ type: 'edge', pin: -1, value: 3 }));
    bad.send(JSON.stringify({ type: 'teleport' }));
    bad.send(Buffer.from([1, 2, 3]));
    bad.send('{"type":"reading","__proto__":{"x":1}}');
    await waitFor(() => badFrames.filter((f) => f.type === 'error').length >= 6, 'an error per malformed frame');
    expect(badFrames.filter((f) => f.type === 'error').map((f) => (f.error as { code: string }).code)).toEqual(
      Array(6).fill('invalid_payload'),
    );
    expect(link.board('bad').status).toBe('online');
    // The other board is untouched and still answers commands.
    expect(goodBoard.status).toBe('online');
    await goodBoard.pinMode(1, 'output');
    expect(await goodBoard.digitalWrite(1, 0)).toBe(0);
    expect(goodFrames.some((f) => f.type === 'error')).toBe(false);

    const browser = new WebSocket(`ws://127.0.0.1:${port}/api/ws`);
    cleanups.push(() => browser.terminate());
    expect(await new Promise((resolve) => browser.once('message', (d) => resolve(String(d))))).toBe('hi browser');

    // The good board goes silent (its socket stays open): offline after missed heartbeats.
    good.removeAllListeners('message');
    good.pause();
    await waitFor(() => goodBoard.status === 'offline', 'silent board offline', 5000);
    await expect(goodBoard.digitalWrite(1, 1)).rejects.toMatchObject({ code: 'board_offline' });
    expect(link.board('bad').status).toBe('online');
  });

  it('refuses a missing subprotocol and a hello with a bad id', async () => {
    const server = newServer();
    const link = attachBoardLink(server, { token: TOKEN });
    const port = await listen(server);
    cleanups.push(async () => {
      await link.close();
      await closeServer(server);
    });
    const noProto = new WebSocket(`ws://127.0.0.1:${port}/board`, { headers: { authorization: `Bearer ${TOKEN}` } });
    noProto.on('error', () => undefined);
    cleanups.push(() => noProto.terminate());
    expect(
      await new Promise((resolve) => noProto.on('unexpected-response', (_q, res) => resolve(res.statusCode))),
    ).toBe(400);
    const ws = rawBoard(port);
    const frames = framesOf(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'hello', id: '../etc', pins: [] }));
    await waitFor(() => frames.some((f) => f.type === 'error'), 'error for bad hello');
    expect(link.boards).toHaveLength(0);
  });
});
