import { Duplex } from 'node:stream';
import { BoardcastError } from '@boardcast/core';

/**
 * The largest Remaining Length MQTT allows (268,435,455 bytes: four
 * variable-length bytes of seven bits, MQTT 3.1.1 §2.2.3, MQTT 5 §1.5.5).
 */
export const MQTT_MAX_PACKET_SIZE = 268_435_455 + 5;

/**
 * A stream between MQTT.js and its socket that reads only each packet's
 * fixed header (type byte and Remaining Length) and destroys the connection
 * with `payload_too_large` as soon as a header announces a packet larger
 * than `limit` bytes — before its body is read, so an oversized PUBLISH is
 * never buffered (MQTT.js 5 checks `maximumPacketSize` only after its
 * parser has assembled the whole packet in memory). Everything else passes
 * through unchanged, in both directions, with the socket's backpressure.
 */
export class PacketSizeGuard extends Duplex {
  readonly #inner: Duplex;
  readonly #limit: number;
  /** 0: next byte is a packet's first byte; 1: inside the Remaining Length; 2: inside a body. */
  #state: 0 | 1 | 2 = 0;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #bodyLeft = 0;

  constructor(inner: Duplex, limit: number) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.#limit = limit;
    inner.on('data', (chunk: Buffer) => {
      const error = this.#scan(chunk);
      if (error) {
        this.destroy(error);
        return;
      }
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => this.destroy());
    // MQTT.js and the board look for these on the socket itself.
    for (const event of ['connect', 'secureConnect', 'timeout']) {
      inner.on(event, (...args: unknown[]) => this.emit(event, ...args));
    }
  }

  /** TCP_NODELAY on the socket underneath (MqttBoard sets it for its commands). */
  setNoDelay(noDelay?: boolean): this {
    (this.#inner as { setNoDelay?: (noDelay?: boolean) => unknown }).setNoDelay?.(noDelay);
    return this;
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#inner.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner.destroy();
    callback(error);
  }

  /** Walks the fixed headers in `chunk`; returns the error that ends the connection, if any. */
  #scan(chunk: Buffer): BoardcastError | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 2) {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        this.#bodyLeft -= take;
        i += take;
        if (this.#bodyLeft === 0) this.#state = 0;
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.#state === 0) {
        this.#state = 1;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      this.#length += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (byte & 0x80) {
        if (this.#lengthBytes === 4) {
          return new BoardcastError('invalid_payload', 'MQTT: malformed Remaining Length (more than 4 bytes)');
        }
        continue;
      }
      const size = 1 + this.#lengthBytes + this.#length;
      if (size > this.#limit) {
        return new BoardcastError(
          'payload_too_large',
          `MQTT: the broker sent a ${size}-byte packet, more than maximumPacketSize ${this.#limit}; connection dropped before reading it`,
          { details: { size, maximumPacketSize: this.#limit } },
        );
      }
      this.#bodyLeft = this.#length;
      this.#state = this.#length === 0 ? 0 : 2;
    }
    return undefined;
  }
}
