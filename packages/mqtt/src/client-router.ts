import type { IPublishPacket, MqttClient } from 'mqtt';

type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

/**
 * One set of listeners per MQTT.js client, shared by every board on it.
 *
 * Hundreds of boards on one client (a fleet found by discovery) would
 * otherwise each add `message`, `connect`, `close` and `error` listeners:
 * every message would run every board's handler (O(boards) per message),
 * and Node warns past ten listeners. Here a message goes to the handlers of
 * its exact topic only (boards subscribe to exact topics, never wildcards).
 *
 * It also counts who holds each subscription, so closing one board does not
 * unsubscribe a topic another board on the same client still reads (the
 * zigbee2mqtt bridge's `bridge/state` is every zigbee device's availability).
 */
export class ClientRouter {
  readonly #client: MqttClient;
  readonly #topics = new Map<string, Set<MessageHandler>>();
  readonly #events = {
    connect: new Set<() => void>(),
    close: new Set<() => void>(),
    error: new Set<(e: Error) => void>(),
  };
  readonly #holders = new Map<string, number>();

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload, packet) => {
      const handlers = this.#topics.get(topic);
      if (!handlers) return;
      for (const handler of [...handlers]) handler(topic, payload, packet);
    });
    client.on('connect', () => {
      for (const fn of [...this.#events.connect]) fn();
    });
    client.on('close', () => {
      for (const fn of [...this.#events.close]) fn();
    });
    client.on('error', (error) => {
      for (const fn of [...this.#events.error]) fn(error);
    });
  }

  static readonly #routers = new WeakMap<MqttClient, ClientRouter>();

  /** The router of `client` (made on first use). */
  static of(client: MqttClient): ClientRouter {
    let router = ClientRouter.#routers.get(client);
    if (!router) {
      router = new ClientRouter(client);
      ClientRouter.#routers.set(client, router);
    }
    return router;
  }

  /** Call `handler` for every message on exactly `topic`; returns the undo. */
  route(topic: string, handler: MessageHandler): () => void {
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    set.add(handler);
    return () => {
      const s = this.#topics.get(topic);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) this.#topics.delete(topic);
    };
  }

  on(event: 'connect' | 'close', fn: () => void): () => void;
  on(event: 'error', fn: (error: Error) => void): () => void;
  on(event: 'connect' | 'close' | 'error', fn: (() => void) | ((error: Error) => void)): () => void {
    const set = this.#events[event] as Set<typeof fn>;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Count one more holder of each topic's subscription. */
  hold(topics: readonly string[]): void {
    for (const t of topics) this.#holders.set(t, (this.#holders.get(t) ?? 0) + 1);
  }

  /** Count one holder less; returns the topics nobody holds any more (to unsubscribe). */
  release(topics: readonly string[]): string[] {
    const unused: string[] = [];
    for (const t of topics) {
      const n = (this.#holders.get(t) ?? 0) - 1;
      if (n > 0) this.#holders.set(t, n);
      else {
        this.#holders.delete(t);
        unused.push(t);
      }
    }
    return unused;
  }

  /**
   * Subscribe even where MQTT.js believes it already is: it skips a filter
   * it subscribed before, and then the broker does not send that topic's
   * retained message again — a second board reading a shared topic would
   * never learn its state.
   */
  subscribe(topics: readonly string[], qos: 0 | 1 | 2): ReturnType<MqttClient['subscribeAsync']> {
    const map: Record<string, { qos: 0 | 1 | 2 }> = {};
    for (const t of topics) map[t] = { qos };
    return this.#client.subscribeAsync({ ...map, resubscribe: true } as Parameters<MqttClient['subscribeAsync']>[0]);
  }
}
