import { BoardcastError, createHub, defineContract, typed } from '@boardcast/core';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { bridgeHub } from '../src/index.js';
import { client, mosquittoPath, spy, useMosquitto } from './broker.js';
import { waitFor } from './devices.js';

const contract = defineContract({
  events: { led: typed<{ on: boolean }>(), tick: typed<number>() },
  commands: {
    led: { input: typed<{ state: 'on' | 'off' }>(), result: typed<{ on: boolean }>() },
    secret: { input: typed<null>(), result: typed<string>() },
  },
  state: typed<{ led: { on: boolean } }>(),
});

function makeHub() {
  const hub = createHub(contract, { state: { led: { on: false } } });
  hub.handle('led', (input) => {
    if (input?.state !== 'on' && input?.state !== 'off') {
      throw new BoardcastError('invalid_payload', 'state must be "on" or "off"');
    }
    const on = input.state === 'on';
    hub.setState({ led: { on } });
    void hub.publish('led', { on });
    return { on };
  });
  hub.handle('secret', () => 'should not run');
  return hub;
}

/**
 * `peer`, subscribed to `filter`, sends the led command with `responseTopic`
 * and gets the one answer there: the bridge still runs commands.
 */
async function expectLedReply(peer: MqttClient, filter: string, responseTopic: string): Promise<void> {
  const replies: string[] = [];
  peer.on('message', (topic, payload) => replies.push(`${topic} ${payload}`));
  await peer.subscribeAsync(filter);
  await peer.publishAsync('home/app/commands/led', '{"state":"on"}', { properties: { responseTopic } });
  await waitFor(() => replies.length === 1, 'reply');
  expect(replies).toEqual([`${responseTopic} {"ok":true,"data":{"on":true}}`]);
}

describe.skipIf(!mosquittoPath)('bridgeHub on a real mosquitto', () => {
  const suite = useMosquitto();

  async function mqtt(options: Parameters<typeof client>[1] = {}): Promise<MqttClient> {
    const c = await client(suite.broker.url, options);
    suite.defer(() => c.endAsync());
    return c;
  }

  async function setup(options: Parameters<typeof bridgeHub<typeof contract>>[2] = {}, protocolVersion: 4 | 5 = 4) {
    const hub = makeHub();
    suite.defer(() => hub.close());
    const app = await mqtt({ protocolVersion });
    const bridge = bridgeHub(hub, app, { prefix: 'home/app', commands: ['led'], ...options });
    const errors: string[] = [];
    bridge.on('error', (e) => errors.push(e instanceof BoardcastError ? e.code : String(e)));
    suite.defer(() => bridge.close());
    await bridge.ready;
    return { hub, bridge, errors, app };
  }

  it('publishes hub events and the retained snapshot state to MQTT', async () => {
    const { hub } = await setup({ retain: ['led'] });
    const watch = await spy(suite.broker.url, 'home/app/events/#');
    suite.defer(() => watch.client.endAsync());
    await hub.publish('tick', 1);
    hub.setState({ led: { on: true } });
    await hub.publish('led', { on: true });
    await waitFor(() => watch.lines.length === 2, 'two events');
    expect(watch.lines).toEqual(['home/app/events/tick 1', 'home/app/events/led {"on":true}']);
    // A subscriber arriving later gets the retained state and the retained led event.
    const late = await spy(suite.broker.url, ['home/app/state', 'home/app/events/led']);
    suite.defer(() => late.client.endAsync());
    await waitFor(() => late.lines.length === 2, 'retained messages');
    expect(late.lines.sort()).toEqual(['home/app/events/led {"on":true}', 'home/app/state {"led":{"on":true}}']);
  });

  it('MQTT 5 peers get the event id as a user property', async () => {
    const hub = makeHub();
    suite.defer(() => hub.close());
    const app = await mqtt({ protocolVersion: 5 });
    const bridge = bridgeHub(hub, app, { prefix: 'v5/app', state: false });
    suite.defer(() => bridge.close());
    const peer = await mqtt({ protocolVersion: 5 });
    const ids: unknown[] = [];
    peer.on('message', (_t, _p, packet) => ids.push(packet.properties?.userProperties?.id));
    await peer.subscribeAsync('v5/app/events/#');
    const id = await hub.publish('tick', 7);
    await waitFor(() => ids.length === 1, 'event');
    expect(ids).toEqual([id]);
  });

  it('runs a command from MQTT and answers on the results topic', async () => {
    const { hub } = await setup();
    const results = await spy(suite.broker.url, 'home/app/results/#');
    suite.defer(() => results.client.endAsync());
    const log: string[] = [];
    hub.on('command', (c) => log.push(`${c.command} ${c.transport} ${c.ok}`));
    const peer = await mqtt();
    await peer.publishAsync('home/app/commands/led', '{"state":"on"}');
    await waitFor(() => results.lines.length === 1, 'result');
    expect(results.lines).toEqual(['home/app/results/led {"ok":true,"data":{"on":true}}']);
    expect(hub.state.led.on).toBe(true);
    expect(log).toEqual(['led mqtt true']);
  });

  it('answers on an MQTT 5 response topic with the correlation data', async () => {
    await setup({ responseTopics: 'me' }, 5);
    const peer = await mqtt({ protocolVersion: 5 });
    const replies: string[] = [];
    peer.on('message', (topic, payload, packet) =>
      replies.push(`${topic} ${payload} ${packet.properties?.correlationData?.toString()}`),
    );
    await peer.subscribeAsync('me/replies');
    await peer.publishAsync('home/app/commands/led', '{"state":"off"}', {
      properties: { responseTopic: 'me/replies', correlationData: Buffer.from('req-42') },
    });
    await waitFor(() => replies.length === 1, 'reply');
    expect(replies).toEqual(['me/replies {"ok":true,"data":{"on":false}} req-42']);
  });

  it('a response topic no one may publish to (a wildcard) is refused; the shared connection survives', async () => {
    const { hub, errors, app } = await setup({ responseTopics: 'me' }, 5);
    let drops = 0;
    app.on('close', () => drops++);
    const peer = await mqtt({ protocolVersion: 5 });
    const results = await spy(suite.broker.url, 'home/app/results/#');
    suite.defer(() => results.client.endAsync());
    const ran: string[] = [];
    hub.on('command', (c) => ran.push(c.command));
    for (const responseTopic of ['evil/#', 'evil/+/x']) {
      await peer.publishAsync('home/app/commands/led', '{"state":"on"}', { properties: { responseTopic } });
    }
    await waitFor(() => results.lines.length === 2, 'refusals on the default results topic');
    for (const line of results.lines) expect(line).toMatch(/^home\/app\/results\/led .*"invalid_payload"/);
    expect(ran).toEqual([]);
    expect(errors).toEqual(['invalid_payload', 'invalid_payload']);
    // The bridge's connection was never dropped by the broker: a command still runs.
    await expectLedReply(peer, 'me/replies', 'me/replies');
    expect(drops).toBe(0);
  });

  it('malformed, unknown, refused and retained command messages get typed errors; the bridge keeps working', async () => {
    // A retained command left on the broker: delivered again on every
    // (re)subscribe, so the bridge must never run it.
    const peer = await mqtt();
    await peer.publishAsync('home/app/commands/led', '{"state":"on"}', { retain: true, qos: 1 });
    suite.defer(() => peer.publishAsync('home/app/commands/led', '', { retain: true, qos: 1 }));
    const { hub, errors } = await setup({ maxPayloadBytes: 256 });
    const results = await spy(suite.broker.url, 'home/app/results/#');
    suite.defer(() => results.client.endAsync());
    const ran: string[] = [];
    hub.on('command', (c) => ran.push(c.command));
    await waitFor(() => errors.length === 1, 'the retained command refused');
    await peer.publishAsync('home/app/commands/led', '{"state":');
    await peer.publishAsync('home/app/commands/led', '{"state":"blue"}');
    await peer.publishAsync('home/app/commands/led', `"${'x'.repeat(300)}"`);
    await peer.publishAsync('home/app/commands/secret', 'null');
    await peer.publishAsync('home/app/commands/nope', '{}');
    await peer.publishAsync('home/app/commands/led', '{"state":"off"}');
    await waitFor(() => results.lines.length === 6, 'six answers');
    const codes = results.lines.map((l) => {
      const body = JSON.parse(l.slice(l.indexOf(' ') + 1)) as { ok: boolean; error?: { code: string } };
      return `${l.split(' ')[0]} ${body.ok ? 'ok' : body.error?.code}`;
    });
    // Handlers run concurrently, so answers come in completion order.
    expect(codes.sort()).toEqual([
      'home/app/results/led invalid_payload',
      'home/app/results/led invalid_payload',
      'home/app/results/led ok',
      'home/app/results/led payload_too_large',
      'home/app/results/nope unknown_command',
      'home/app/results/secret unknown_command',
    ]);
    // Only the two well-formed led messages reached the hub; the retained one never ran.
    expect(ran).toEqual(['led', 'led']);
    expect(hub.state.led.on).toBe(false);
    expect(errors).toEqual(['invalid_payload', 'invalid_payload', 'payload_too_large']);
  });

  it('results go only where the bridge answers: another device, its own topics and unlisted topics are refused (issue 27)', async () => {
    const { hub, errors } = await setup({ responseTopics: 'me' }, 5);
    const ran: string[] = [];
    hub.on('command', (c) => ran.push(c.command));
    // Everything published anywhere on the broker from now on (retained copies of earlier tests' messages left out).
    const watcher = await mqtt();
    const all = { lines: [] as string[] };
    watcher.on('message', (topic, payload, packet) => {
      if (!packet.retain) all.lines.push(`${topic} ${payload}`);
    });
    await watcher.subscribeAsync('#', { qos: 1 });
    const peer = await mqtt({ protocolVersion: 5 });
    const hostile = [
      'cmnd/plug1/POWER', // another device's command topic
      'home/app/events/led', // a forged event of this app
      'home/app/state', // a forged state
      'home/app/commands/led', // its own command topic: a loop
      'me', // the allowed prefix itself is not under it
      'cmnd/plug1/POWER', // again: refused again, reported once
    ];
    for (const responseTopic of hostile) {
      await peer.publishAsync('home/app/commands/led', '{"state":"on"}', { properties: { responseTopic } });
    }
    await waitFor(
      () => all.lines.filter((l) => l.startsWith('home/app/results/led ')).length === hostile.length,
      'refusals',
    );
    for (const line of all.lines.filter((l) => l.startsWith('home/app/results/'))) {
      expect(line).toMatch(/^home\/app\/results\/led \{"ok":false,"error":\{"code":"forbidden"/);
    }
    // Nothing the requester named was published to; the command never ran.
    const published = all.lines.map((l) => l.slice(0, l.indexOf(' ')));
    for (const topic of ['cmnd/plug1/POWER', 'home/app/events/led', 'me']) expect(published).not.toContain(topic);
    expect(all.lines.filter((l) => l.startsWith('home/app/commands/led '))).toHaveLength(hostile.length);
    expect(published).not.toContain('home/app/state');
    expect(ran).toEqual([]);
    expect(hub.state.led.on).toBe(false);
    // Logged once per topic: five distinct topics, six refusals.
    expect(errors).toEqual(['forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden']);

    // A topic under the configured prefix is answered there.
    await expectLedReply(peer, 'me/+', 'me/r1');
  });

  it('responseTopics as a function decides per topic and command; without it no response topic is used', async () => {
    const { hub } = await setup({ responseTopics: (topic, command) => topic === `replies/${command}` }, 5);
    const peer = await mqtt({ protocolVersion: 5 });
    const seen: string[] = [];
    peer.on('message', (topic, payload) => seen.push(`${topic} ${payload}`));
    await peer.subscribeAsync(['replies/#', 'home/app/results/#']);
    await peer.publishAsync('home/app/commands/led', '{"state":"on"}', {
      properties: { responseTopic: 'replies/led' },
    });
    await peer.publishAsync('home/app/commands/led', '{"state":"off"}', {
      properties: { responseTopic: 'replies/other' },
    });
    await waitFor(() => seen.length === 2, 'two answers');
    expect(seen.sort()).toEqual([
      expect.stringMatching(/^home\/app\/results\/led \{"ok":false,"error":\{"code":"forbidden"/),
      'replies/led {"ok":true,"data":{"on":true}}',
    ]);
    expect(hub.state.led.on).toBe(true);

    // Default: only <prefix>/results/<command>.
    const hub2 = makeHub();
    suite.defer(() => hub2.close());
    const app2 = await mqtt({ protocolVersion: 5 });
    const bridge2 = bridgeHub(hub2, app2, { prefix: 'plain/app', commands: ['led'] });
    const errors2: unknown[] = [];
    bridge2.on('error', (e) => errors2.push(e));
    suite.defer(() => bridge2.close());
    await bridge2.ready;
    await peer.subscribeAsync('plain/app/results/#');
    await peer.publishAsync('plain/app/commands/led', '{"state":"on"}', {
      properties: { responseTopic: 'replies/led' },
    });
    await waitFor(() => seen.length === 3, 'third answer');
    expect(seen[2]).toMatch(/^plain\/app\/results\/led \{"ok":false,"error":\{"code":"forbidden"/);
    expect(hub2.state.led.on).toBe(false);
    expect(errors2).toHaveLength(1);
  });

  it('a retained command published while the bridge is subscribed never runs (MQTT 5 Retain-As-Published)', async () => {
    const { hub, errors } = await setup({}, 5);
    const ran: string[] = [];
    hub.on('command', (c) => ran.push(c.command));
    const peer = await mqtt({ protocolVersion: 5 });
    await peer.publishAsync('home/app/commands/led', '{"state":"on"}', { retain: true, qos: 1 });
    suite.defer(() => peer.publishAsync('home/app/commands/led', '', { retain: true, qos: 1 }));
    await waitFor(() => errors.length === 1, 'the live retained command refused');
    expect(errors).toEqual(['invalid_payload']);
    // The same command not retained runs: the bridge is listening.
    await peer.publishAsync('home/app/commands/led', '{"state":"on"}');
    await waitFor(() => ran.length === 1, 'the live command ran');
    expect(ran).toEqual(['led']);
  });

  it('a prefix or responseTopics with a wildcard is a typed error, not a TypeError', async () => {
    const hub = makeHub();
    suite.defer(() => hub.close());
    const app = await mqtt();
    for (const options of [
      { prefix: 'home/#' },
      { prefix: 'home/+/x' },
      { prefix: '' },
      { prefix: 'home/' },
      { responseTopics: 'me/#' },
      { responseTopics: '' },
    ]) {
      let caught: unknown;
      try {
        bridgeHub(hub, app, options);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(BoardcastError);
      expect((caught as BoardcastError).code).toBe('invalid_payload');
    }
  });
});
