// The fleet started as its README says, with `--mqtt-url` against a real
// mosquitto: devices that announce themselves with Tasmota discovery, Home
// Assistant per-component discovery (ESPHome) and Home Assistant device
// discovery (zigbee2mqtt's one-payload shape) become boards in the fleet's
// directory and rows of its page, switch from the page, follow their
// availability (last will) as board status, leave with their discovery
// config, and a hostile config that names another device's command topic
// gets no switch at all. The device doubles publish the shapes the
// projects document (packages/mqtt/test/devices.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../../../packages/mqtt/test/broker.js';
import { DeviceDiscoveryDouble, EsphomeDouble, TasmotaDouble } from '../../../packages/mqtt/test/devices.js';
import { type MosquittoProcess, startMosquitto } from '../../../test-support/mosquitto.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, mosquittoPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { runFleetCommand } from './helpers.js';

const PLUG = 'tasmota:A4CF121A2B3C';
const NODE = 'ha:84f3eb123456';
const BULB = 'ha:zigbee2mqtt_0x000b57fffe123456';
const EVIL = 'ha:evil-device';

interface Entry {
  readonly id: string;
  readonly kind?: string;
  readonly status?: string;
  readonly name?: string;
  readonly firmware?: string;
  readonly capabilities?: { readonly pins: readonly { pin: string | number; modes: readonly string[] }[] };
}

describe.skipIf(!mosquittoPath || !chromiumPath)('fleet --mqtt-url: discovered devices on a real mosquitto', () => {
  let broker: MosquittoProcess;
  let dir: string;
  let fleet: { port: number; output: () => string; stop: () => Promise<void> };
  let launched: LaunchedBrowser;
  let peer: Awaited<ReturnType<typeof client>>;
  let plug: TasmotaDouble;
  let node: EsphomeDouble;
  let bulb: DeviceDiscoveryDouble;
  let alice: Page;
  let bob: Page;

  const api = async (token: string, path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${fleet.port}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...init.headers },
    });
  const directory = async (token: string): Promise<Entry[]> =>
    ((await (await api(token, '/api/directory?limit=1000')).json()) as { entries: Entry[] }).entries;
  const row = (page: Page, id: string) => page.locator(`li[data-board="${id}"]`);

  async function login(token: string): Promise<Page> {
    const page = await (await launched.browser.newContext()).newPage();
    page.on('pageerror', (error) => console.error('[page error]', error));
    await page.goto(`http://127.0.0.1:${fleet.port}/?token=${token}`); // 303 + session cookie
    await page.goto(`http://127.0.0.1:${fleet.port}/?transport=sse`);
    return page;
  }

  beforeAll(async () => {
    broker = await startMosquitto();
    peer = await client(broker.url);
    // The devices are on the broker before the fleet starts (their configs retained), as in a house.
    plug = await TasmotaDouble.start(broker.url, 'kitchen_plug', {
      relays: 1,
      discovery: { mac: 'A4CF121A2B3C', name: 'Kitchen plug' },
      sensors: { AM2301: { Temperature: 21.4, Humidity: 48 }, TempUnit: 'C' },
    });
    node = await EsphomeDouble.start(broker.url, 'livingroom', {
      switches: ['relay'],
      sensors: { temperature: 20.5 },
      discovery: { mac: '84f3eb123456' },
    });
    bulb = await DeviceDiscoveryDouble.start(broker.url, { name: 'hall_bulb', objectId: '0x000b57fffe123456' });

    dir = mkdtempSync(join(tmpdir(), 'fleet-mqtt-'));
    const users = join(dir, 'users.json');
    writeFileSync(
      users,
      JSON.stringify({
        users: {
          alice: { token: 'alice-secret-token', see: ['*'], control: ['*'] },
          // bob watches the Tasmota devices and may switch none of them.
          bob: { token: 'bob-secret-token', see: ['tasmota:*'], control: [] },
        },
      }),
    );
    // As the README says: pnpm --filter fleet start -- --mqtt-url … (scripts/start.mjs).
    const { script, port } = await runFleetCommand(['--boards', '1', '--mqtt-url', broker.url, '--users', users]);
    fleet = { port, output: script.output, stop: () => script.stop('SIGTERM') };
    launched = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await launched?.close();
    await fleet?.stop();
    await Promise.all([plug?.stop(), node?.stop(), bulb?.stop(), peer?.endAsync(true)]);
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('each device is a board in the directory (kind, name, firmware, online) and a row of the page', async () => {
    const entries = await waitFor(
      async () => {
        const list = await directory('alice-secret-token');
        const ids = list.map((e) => e.id);
        const online = list.filter((e) => [PLUG, NODE, BULB].includes(e.id) && e.status === 'online');
        return online.length === 3 && ids.includes('board-1') ? list : undefined;
      },
      'three discovered devices online in the directory',
      30_000,
    );
    expect(entries.find((e) => e.id === PLUG)).toMatchObject({
      kind: 'tasmota',
      name: 'Kitchen plug',
      firmware: '13.2.0',
      capabilities: { pins: [{ pin: 'POWER', modes: ['output'] }] },
    });
    expect(entries.find((e) => e.id === NODE)).toMatchObject({ kind: 'homeassistant', firmware: 'esphome v2024.6.0' });
    expect(entries.find((e) => e.id === BULB)).toMatchObject({ kind: 'homeassistant', name: 'hall_bulb' });

    alice = await login('alice-secret-token');
    bob = await login('bob-secret-token');
    for (const id of [PLUG, NODE, BULB, 'board-1']) {
      await expect.poll(() => row(alice, id).getAttribute('data-status'), { timeout: 20_000 }).toBe('online');
    }
    // Readings reach the page: the node's temperature, the plug's after its next telemetry.
    await expect
      .poll(() => row(alice, NODE).locator('.temperature').textContent(), { timeout: 20_000 })
      .toBe('20.5 °C');
    plug.telemetry({ AM2301: { Temperature: 22.5, Humidity: 47 } });
    await expect
      .poll(() => row(alice, PLUG).locator('.temperature').textContent(), { timeout: 20_000 })
      .toContain('22.5 °C');
    // bob sees the Tasmota device only.
    await expect
      .poll(() => bob.$$eval('#boards li', (items) => items.map((li) => (li as HTMLElement).dataset.board)), {
        timeout: 20_000,
      })
      .toEqual([PLUG]);
  }, 120_000);

  it('switching a discovered device from the page reaches the device (Tasmota relay, ESPHome switch, zigbee2mqtt light)', async () => {
    await row(alice, PLUG).locator('.led').click();
    await waitFor(() => plug.relays[0] === true, "the plug's relay on", 20_000);
    await expect.poll(() => row(alice, PLUG).locator('.led').textContent(), { timeout: 20_000 }).toBe('LED on');
    // bob's page follows; his switch is greyed out and the server refuses it anyway.
    await expect.poll(() => row(bob, PLUG).locator('.led').textContent(), { timeout: 20_000 }).toBe('LED on');
    expect(await row(bob, PLUG).locator('.led').isDisabled()).toBe(true);
    const refused = await api('bob-secret-token', `/api/commands/led?channel=${encodeURIComponent(PLUG)}`, {
      method: 'POST',
      body: JSON.stringify({ state: 'off' }),
    });
    expect(refused.status).toBe(403);
    expect(plug.relays[0]).toBe(true);

    await row(alice, NODE).locator('.led').click();
    await waitFor(() => node.switches.get('relay') === true, "the node's relay on", 20_000);
    await row(alice, BULB).locator('.led').click();
    await waitFor(() => bulb.light, 'the bulb on', 20_000);
    expect(bulb.received).toEqual(['{"state":"ON"}']);
  }, 120_000);

  it("a hostile config that names another device's command topic gets no switch, and cannot reach that device", async () => {
    // The plug's POWER commands so far (a STATUS query when it comes online is the fleet reading its sensors).
    const powerCommands = () => plug.received.filter((r) => r.toUpperCase().startsWith('POWER'));
    const before = powerCommands();
    const dev = { ids: 'evil-device', name: 'Innocent lamp' };
    // A switch whose base topic (`~`) is the plug's command prefix, and a sensor, so the device itself is announced.
    await peer.publishAsync(
      'homeassistant/switch/evil/lamp/config',
      JSON.stringify({
        name: 'Lamp',
        '~': 'cmnd/kitchen_plug/',
        cmd_t: '~POWER',
        stat_t: '~STATE',
        uniq_id: 'evil-lamp',
        dev,
      }),
      { retain: true, qos: 1 },
    );
    await peer.publishAsync(
      'homeassistant/sensor/evil/temp/config',
      JSON.stringify({ name: 'Temp', stat_t: 'evil/temp', uniq_id: 'evil-temp', dev }),
      { retain: true, qos: 1 },
    );
    const evil = await waitFor(
      async () => (await directory('alice-secret-token')).find((e) => e.id === EVIL),
      'the hostile device in the directory (its sensor only)',
      30_000,
    );
    expect(evil.capabilities?.pins ?? []).toEqual([]);
    await waitFor(
      () => new RegExp(`mqtt ${EVIL}: forbidden: .*cmnd/kitchen_plug/`).test(fleet.output()),
      'the refusal logged with its code',
      20_000,
    );
    // alice may switch everything: the hub still has nothing to send to the plug through this board.
    const attempt = await api('alice-secret-token', `/api/commands/led?channel=${encodeURIComponent(EVIL)}`, {
      method: 'POST',
      body: JSON.stringify({ state: 'off' }),
    });
    expect(attempt.ok).toBe(false);
    expect(((await attempt.json()) as { error: { code: string } }).error.code).toBe('unknown_command');
    // On the page its switch is greyed out: the board has nothing to switch.
    await expect.poll(() => row(alice, EVIL).getAttribute('data-status'), { timeout: 20_000 }).toBeTruthy();
    expect(await row(alice, EVIL).locator('.led').isDisabled()).toBe(true);
    // The hostile device changes its config once more, and the fleet shows its new name. The plug's
    // rebuild the hostile one caused was scheduled before, with the same settle time, so it is done:
    // the plug kept its switch (a Home Assistant `~` on a Tasmota's cmnd/<t>/ does not take it away).
    await peer.publishAsync(
      'homeassistant/sensor/evil/temp/config',
      JSON.stringify({ name: 'Temp', stat_t: 'evil/temp', uniq_id: 'evil-temp', dev: { ...dev, name: 'Lamp 2' } }),
      { retain: true, qos: 1 },
    );
    await expect.poll(() => row(alice, EVIL).locator('.name').textContent(), { timeout: 20_000 }).toBe('Lamp 2');
    expect((await directory('alice-secret-token')).find((e) => e.id === PLUG)?.capabilities?.pins).toEqual([
      { pin: 'POWER', modes: ['output'] },
    ]);
    expect(fleet.output()).not.toMatch(new RegExp(`mqtt ${PLUG}: forbidden`));
    // Its switch stays enabled (once the previous test's click has settled: the switch is disabled while it is sent).
    await expect.poll(() => row(alice, PLUG).locator('.led').isDisabled(), { timeout: 20_000 }).toBe(false);
    expect(powerCommands()).toEqual(before);
    expect(plug.relays[0]).toBe(true);
  }, 120_000);

  it("availability becomes board status (the plug's last will), and an emptied discovery config removes the board", async () => {
    plug.kill();
    await expect.poll(() => row(alice, PLUG).getAttribute('data-status'), { timeout: 20_000 }).toBe('offline');
    await expect.poll(() => row(bob, PLUG).getAttribute('data-status'), { timeout: 20_000 }).toBe('offline');
    expect((await directory('alice-secret-token')).find((e) => e.id === PLUG)?.status).toBe('offline');
    node.kill();
    await expect.poll(() => row(alice, NODE).getAttribute('data-status'), { timeout: 20_000 }).toBe('offline');

    // Discovery switched off on the plug: its empty retained config.
    await peer.publishAsync('tasmota/discovery/A4CF121A2B3C/config', '', { retain: true, qos: 1 });
    await expect.poll(() => row(alice, PLUG).count(), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => row(bob, PLUG).count(), { timeout: 20_000 }).toBe(0);
    expect((await directory('alice-secret-token')).some((e) => e.id === PLUG)).toBe(false);
    await bulb.removeDiscovery();
    await expect.poll(() => row(alice, BULB).count(), { timeout: 20_000 }).toBe(0);
    // The simulated board is untouched.
    expect(await row(alice, 'board-1').getAttribute('data-status')).toBe('online');
  });
});
