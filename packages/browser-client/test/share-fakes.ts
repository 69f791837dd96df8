import type { ChannelDial, ChannelTransport } from '../src/channel-link.js';
import type { LinkSink } from '../src/client.js';
import { until } from './helpers.js';

/**
 * For share.ts in Node (share.test.ts, share-channels.test.ts), whose
 * BroadcastChannel delivers between the instances of one process as a
 * browser does between tabs: the transport below it is a stand-in at the
 * lowest boundary, `dial`, which hands out each connection's sink (and
 * channel set) so the test plays the server. The real transports are
 * covered in tabs.browser.test.ts and tabs-channels.browser.test.ts.
 */
export interface Dialed<S extends LinkSink> {
  readonly lastEventId: string | undefined;
  readonly sink: S;
  /** The channel set asked for (channel connections only). */
  readonly set: ChannelDial | undefined;
  aborted: boolean;
}

export interface FakeTransport<S extends LinkSink> {
  readonly transport: ChannelTransport;
  /** Every connection dialled, in order. */
  readonly dials: Dialed<S>[];
  /** Wait for the `n`th dial (1-based), open it as a server would, and return its sink. */
  opened(n: number, what: string): Promise<S>;
}

export function fakeTransport<S extends LinkSink = LinkSink>(): FakeTransport<S> {
  const dials: Dialed<S>[] = [];
  const transport: ChannelTransport = {
    name: 'sse',
    dial(lastEventId, sink, _side, set) {
      const dialed: Dialed<S> = { lastEventId, sink: sink as S, set, aborted: false };
      dials.push(dialed);
      return () => {
        dialed.aborted = true;
      };
    },
    command: async () => 'ok',
    stop: () => undefined,
  };
  return {
    transport,
    dials,
    async opened(n, what) {
      await until(() => dials.length === n, 10_000, what);
      const sink = (dials[n - 1] as Dialed<S>).sink;
      sink.open();
      return sink;
    },
  };
}
