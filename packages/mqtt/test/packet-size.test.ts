import { Duplex } from 'node:stream';
import { BoardcastError } from '@boardcast/core';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { connectMqtt, MqttBoard } from '../src/index.js';
import { PacketSizeGuard } from '../src/packet-size.js';
import { client, mosquittoPath, useMosquitto } from './broker.js';
import { waitFor } from './devices.js';

/** An MQTT PUBLISH (QoS 0) as bytes, so the guard sees real fixed headers. */
function publishPacket(topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, payload]);
  const length: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x30, ...length]), body]);
}

/** The socket side of a guard: bytes pushed in arrive as if from the broker. */
function socketDouble(): Duplex {
  return new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
}

describe('PacketSizeGuard', () => {
  it('passes packets under the limit through unchanged, whatever the chunking', async () => {
    const packets = Buffer.concat([
      publishPacket('a', Buffer.alloc(10, 1)),
      publishPacket('b/c', Buffer.alloc(200, 2)), // two-byte Remaining Length
      Buffer.from([0xd0, 0x00]), // PINGRESP: Remaining Length 0
      publishPacket('d', Buffer.alloc(1000, 3)),
    ]);
    for (const size of [1, 2, 3, 7, 64, packets.length]) {
      const inner = socketDouble();
      const guard = new PacketSizeGuard(inner, 2000);
      const out: Buffer[] = [];
      guard.on('data', (c: Buffer) => out.push(c));
      for (let i = 0; i < packets.length; i += size) inner.push(packets.subarray(i, i + size));
      await waitFor(() => Buffer.concat(out).length === packets.length, `chunks of ${size}`);
      expect(Buffer.concat(out).equals(packets)).toBe(true);
      guard.destroy();
    }
  });

  it('destroys the stream at the header of a larger packet, before its body, whatever the chunking', async () => {
    for (const size of [1, 3, 4096]) {
      const inner = socketDouble();
      const guard = new PacketSizeGuard(inner, 1000);
      const out: Buffer[] = [];
      guard.on('data', (c: Buffer) => out.push(c));
      const failed = new Promise<unknown>((resolve) => guard.on('error', resolve));
      const small = publishPacket('ok', Buffer.alloc(10));
      const big = publishPacket('big', Buffer.alloc(5000));
      const bytes = Buffer.concat([small, big]);
      for (let i = 0; i < bytes.length && !guard.destroyed; i += size) inner.push(bytes.subarray(i, i + size));
      const error = await failed;
      expect(error).toBeInstanceOf(BoardcastError);
      expect((error as BoardcastError).code).toBe('payload_too_large');
      expect(inner.destroyed).toBe(true);
      // Nothing of the oversized packet's body went to the parser: at most
      // the first bytes of its fixed header (in chunks before the one that completes it).
      expect(Buffer.concat(out).length).toBeLessThanOrEqual(small.length + 4);
    }
  });

  it('a Remaining Length of more than four bytes is invalid_payload', async () => {
    const inner = socketDouble();
    const guard = new PacketSizeGuard(inner, 1000);
    const failed = new Promise<unknown>((resolve) => guard.on('error', resolve));
    inner.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(((await failed) as BoardcastError).code).toBe('invalid_payload');
  });
});

describe.skipIf(!mosquittoPath)('maximumPacketSize against a real mosquitto', () => {
  const suite = useMosquitto();
  const big = Buffer.alloc(1024 * 1024, 0x61); // 1 MiB, over a 64 KiB limit

  async function publisher(): Promise<MqttClient> {
    const c = await client(suite.broker.url);
    suite.defer(() => c.endAsync());
    return c;
  }

  async function guarded(protocolVersion: 4 | 5): Promise<{ c: MqttClient; errors: unknown[]; closes: () => number }> {
    const c = connectMqtt(suite.broker.url, { protocolVersion, maximumPacketSize: 65_536, reconnectPeriod: 100 });
    suite.defer(() => c.endAsync());
    const errors: unknown[] = [];
    let closes = 0;
    c.on('error', (e) => errors.push(e));
    c.on('close', () => closes++);
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    return { c, errors, closes: () => closes };
  }

  it('MQTT 5: announced in CONNECT, so the broker never sends the oversized message; the connection stays', async () => {
    const { c, errors, closes } = await guarded(5);
    expect(c.options.properties?.maximumPacketSize).toBe(65_536);
    const got: string[] = [];
    c.on('message', (topic, payload) => got.push(`${topic} ${payload.length}`));
    await c.subscribeAsync('v5/#', { qos: 0 });
    const pub = await publisher();
    await pub.publishAsync('v5/big', big);
    await pub.publishAsync('v5/small', 'x');
    await waitFor(() => got.length === 1, 'the small message');
    expect(got).toEqual(['v5/small 1']);
    expect(errors).toEqual([]);
    expect(closes()).toBe(0);
  });

  it('MQTT 3.1.1: the connection is dropped at the oversized header with payload_too_large, then reconnects', async () => {
    const { c, errors } = await guarded(4);
    let reconnects = 0;
    c.on('connect', () => reconnects++);
    const got: string[] = [];
    c.on('message', (topic, payload) => got.push(`${topic} ${payload.length}`));
    await c.subscribeAsync('v4/#', { qos: 0 });
    const pub = await publisher();
    await pub.publishAsync('v4/big', big);
    await waitFor(() => errors.length >= 1, 'the refusal');
    expect(errors[0]).toBeInstanceOf(BoardcastError);
    expect((errors[0] as BoardcastError).code).toBe('payload_too_large');
    await waitFor(() => reconnects > 0, 'reconnected');
    // mosquitto 2.0.11 may still be tearing down the dropped connection's
    // session (same client id) for a moment after the new CONNACK, and a
    // message published then can miss the new subscription: send until one arrives.
    await waitFor(() => {
      if (got.length === 0) void pub.publishAsync('v4/small', 'x');
      return got.length > 0;
    }, 'a small message after reconnecting');
    expect(got[0]).toBe('v4/small 1');
    expect(got.some((l) => l.startsWith('v4/big'))).toBe(false);
  });

  it('a bad maximumPacketSize is a typed error', () => {
    for (const maximumPacketSize of [0, -1, 1.5, Number.NaN, 300_000_000]) {
      expect(() => connectMqtt(suite.broker.url, { maximumPacketSize })).toThrow(BoardcastError);
    }
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`MqttBoard from a url bounds its own client (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'})`, async () => {
      const board = new MqttBoard({
        id: `bounded-${protocolVersion}`,
        url: suite.broker.url,
        mqtt: { protocolVersion, reconnectPeriod: 100 },
        maxPayloadBytes: 1024,
        topics: { sensors: [{ name: 'temperature', state: `bounded${protocolVersion}/t` }] },
      });
      suite.defer(() => board.close());
      const codes: string[] = [];
      board.on('error', (e) => codes.push(e instanceof BoardcastError ? e.code : String(e)));
      const readings: number[] = [];
      board.on('reading', (r) => readings.push(r.value));
      await waitFor(() => board.status === 'online', 'online');
      // maxPayloadBytes 1024 → packets up to 1024 + 65536 bytes.
      expect(protocolVersion === 5 ? board.client.options.properties?.maximumPacketSize : 66_560).toBe(66_560);
      const statuses: string[] = [];
      board.on('status', (s) => statuses.push(s));
      const pub = await publisher();
      await pub.publishAsync(`bounded${protocolVersion}/t`, big);
      if (protocolVersion === 4) {
        // The guard dropped the connection and said why; the board resyncs.
        await waitFor(() => codes.includes('payload_too_large'), 'the refusal');
        await waitFor(() => statuses.join() === 'offline,online', 'offline, then online again');
      }
      await pub.publishAsync(`bounded${protocolVersion}/t`, '21.5');
      await waitFor(() => readings.includes(21.5), 'a reading after the big message');
      // MQTT 5: the broker never sent it, so there is nothing to report and no reconnect.
      if (protocolVersion === 5) {
        expect(codes).toEqual([]);
        expect(statuses).toEqual([]);
      }
    });
  }
});
