/**
 * The whole path a device page takes: Tasmota double → mosquitto → MqttBoard
 * → hub → SSE endpoint → @boardcast/browser-client (in Node, fetch-based SSE).
 * What MQTT.js users in browsers miss after a reconnect, the page gets here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bindBoardStatus, bindInputs, type PinChange } from '@boardcast/board-adapter-gpio';
import { connect } from '@boardcast/browser-client';
import { BoardcastError, createHub, defineContract, type Hub, typed } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { describe, expect, it } from 'vitest';
import { MqttBoard, tasmota } from '../src/index.js';
import { mosquittoPath, useMosquitto } from './broker.js';
import { TasmotaDouble, waitFor } from './devices.js';

interface PageState {
  readonly led: { readonly on: boolean };
  readonly inputs: Readonly<Record<string, 0 | 1>>;
  readonly board: { readonly id: string; readonly status: 'online' | 'offline' };
}

const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    pin_change: typed<PinChange>(),
    board: typed<{ id: string; status: 'online' | 'offline' }>(),
  },
  commands: { led: { input: typed<{ state: 'on' | 'off' | 'toggle' }>(), result: typed<{ on: boolean }>() } },
  state: typed<PageState>(),
  reducers: {
    led: (s, led) => ({ ...s, led }),
    pin_change: (s, c) => ({ ...s, inputs: { ...s.inputs, [String(c.pin)]: c.value } }),
    board: (s, board) => ({ ...s, board }),
  },
});

/**
 * The relay is published from the board's own reports (`change`), so the
 * page follows the device whoever switches it (the page, the device's
 * button, a timer); the command passes the hub's signal and deadline on.
 */
function bindRelay(hub: Hub<typeof contract>, board: MqttBoard): () => void {
  const off = board.on('change', (e) => {
    if (e.pin === 'POWER') void hub.publish('led', { on: e.value === 1 });
  });
  const unhandle = hub.handle('led', async ({ state }, ctx) => {
    const current = board.levels.get('POWER');
    const want = state === 'toggle' ? (current === 1 ? 0 : 1) : state === 'on' ? 1 : 0;
    const level = await board.digitalWrite('POWER', want, { signal: ctx.signal, deadline: ctx.deadline });
    return { on: level === 1 };
  });
  return () => {
    off();
    unhandle();
  };
}

describe.skipIf(!mosquittoPath)('a page on an MQTT device (SSE + browser-client)', () => {
  const suite = useMosquitto();

  async function listen(server: Server, port = 0): Promise<number> {
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  async function kill(server: Server): Promise<void> {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  it('toggles from the page, shows the real state after an ignored command, the last will, and missed events after a reconnect', async () => {
    const device = await TasmotaDouble.start(suite.broker.url, 'page1', { switches: 1 });
    suite.defer(() => device.stop());
    const board = new MqttBoard({
      id: 'plug',
      url: suite.broker.url,
      mqtt: { reconnectPeriod: 100 },
      topics: tasmota('page1', { switches: 1 }),
      commandTimeoutMs: 500,
    });
    suite.defer(() => board.close());
    await waitFor(() => board.status === 'online', 'board online');
    const hub = createHub(contract, {
      state: {
        led: { on: board.levels.get('POWER') === 1 },
        inputs: {},
        board: { id: board.id, status: board.status },
      },
      commandTimeoutMs: 5000,
    });
    suite.defer(() => hub.close());
    const unbind = [bindRelay(hub, board), bindInputs(hub, [{ board, pin: 'Switch1' }]), bindBoardStatus(hub, board)];
    suite.defer(() => {
      for (const fn of unbind) fn();
    });
    const api = boardcastHttp(hub, { base: '/api' });
    let server = createServer(api.node);
    const port = await listen(server);
    suite.defer(() => kill(server));

    const page = connect(`http://127.0.0.1:${port}/api`, contract, {
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    suite.defer(() => page.close());
    let snapshots = 0;
    page.on('snapshot', () => snapshots++);
    const seen: string[] = [];
    page.on('led', (d) => seen.push(`led ${d.on}`));
    page.on('pin_change', (d) => seen.push(`pin ${d.pin}=${d.value}`));
    page.on('board', (d) => seen.push(`board ${d.status}`));
    await waitFor(() => page.state?.board.status === 'online', 'page has the snapshot');

    // Toggle from the page: the answer is the device's report.
    expect(await page.command('led', { state: 'toggle' })).toEqual({ on: true });
    expect(device.relays[0]).toBe(true);
    await waitFor(() => page.state?.led.on === true, 'page shows on');

    // A command the device ignores: `timeout`, and the page still shows the truth.
    device.ignoreCommands = true;
    const refused = await page.command('led', { state: 'off' }).catch((e: unknown) => e);
    expect((refused as BoardcastError).code).toBe('timeout');
    expect(page.state?.led.on).toBe(true);
    device.ignoreCommands = false;

    // The page's link drops; meanwhile the device changes twice.
    await kill(server);
    await waitFor(() => page.status === 'reconnecting', 'page reconnecting');
    device.setSwitch(0, true);
    device.pressButton(); // relay off at the device
    await waitFor(() => hub.state.led.on === false && hub.state.inputs.Switch1 === 1, 'hub followed the device');
    server = createServer(api.node);
    await listen(server, port);
    await waitFor(() => seen.length === 3, 'page caught up');
    expect(snapshots).toBe(1); // resumed with the missed events, not re-snapshotted
    expect(seen).toEqual(['led true', 'pin Switch1=1', 'led false']);
    expect(page.state?.led).toEqual({ on: false });
    expect(page.lastEventId).toBe(hub.headId);

    // The broker restarts, forgetting every retained message, and the relay
    // is switched at the device meanwhile: the page goes offline, then
    // online with the state the device has now.
    await suite.broker.kill();
    await waitFor(() => page.state?.board.status === 'offline', 'page offline while the broker is down');
    device.pressButton();
    await suite.broker.start();
    await waitFor(() => page.state?.board.status === 'online', 'page online after the restart', 15_000);
    expect(page.state?.led.on).toBe(true);
    expect(seen.slice(3)).toEqual(['board offline', 'led true', 'board online']);

    // The device dies: its last will reaches the page, and commands fail at once.
    device.kill();
    await waitFor(() => page.state?.board.status === 'offline', 'page shows offline');
    const offline = await page.command('led', { state: 'on' }).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(BoardcastError);
    expect((offline as BoardcastError).code).toBe('board_offline');
    expect(seen.at(-1)).toBe('board offline');
  });
});
