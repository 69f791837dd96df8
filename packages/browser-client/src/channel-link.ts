import type { BoardcastError, DirectoryQuery } from '@boardcast/core';
import type { LinkSink, Transport } from './client.js';

/**
 * What a connection that names channels reports, beside the single-stream
 * {@link LinkSink} (whose `snapshot`/`event`/`reset` it does not use).
 */
export interface ChannelSink extends LinkSink {
  /** `channel`'s state; `id` is the connection's position it stands at (`null`: no event on the bus yet). */
  channelSnapshot(channel: string, state: unknown, id: string | null): void;
  /**
   * An event of `channel`. `id` `null`: a catch-up replay of a channel added
   * with an older `since`; it is folded but moves no position.
   */
  channelEvent(channel: string, name: string, data: unknown, id: string | null): void;
  /** `channel` lost events (`history`), was removed (`removed`) or restarted (`slow`): its snapshot follows. */
  channelReset(channel: string, reason: string): void;
  /** The viewer may not (or no longer) see `channel`: the server dropped it from the set. */
  forbidden(channel: string, error: BoardcastError): void;
  /** WS: the server answered a `subscribe`; every channel it named has started. */
  started(channels: readonly string[]): void;
}

/** One channel to ask for with its own resume id (the `{channel, since}` of the wire). */
export interface SinceRequest {
  readonly channel: string;
  readonly since: string;
}

/** The page of the directory to ask for: core's own type (filters, then `offset`/`limit` by id). */
export type { DirectoryQuery };

/**
 * The set a channel connection asks for when it opens. `resume` channels
 * continue after the connection's Last-Event-ID; `fresh` ones (new, or
 * whose snapshot never arrived; patterns and `~directory` always) start
 * with a snapshot; `since` ones continue after their own id.
 */
export interface ChannelDial {
  readonly resume: readonly string[];
  readonly fresh: readonly string[];
  readonly since: readonly SinceRequest[];
  readonly directory?: DirectoryQuery | undefined;
}

/** A transport that also speaks channels. */
export interface ChannelTransport extends Transport {
  /** `channels` present: a channel connection asking for that set (its frames go to the {@link ChannelSink} methods). */
  dial(lastEventId: string | undefined, sink: LinkSink, side?: boolean, channels?: ChannelDial): () => void;
  command(name: string, input: unknown, timeoutMs: number, channel?: string): Promise<unknown>;
  /**
   * Add to the set of the open connection in place (WS). `false` when it
   * cannot (SSE, or no connection open): the client opens a new connection
   * with the new set instead.
   */
  subscribe?(requests: readonly (string | SinceRequest)[], directory?: DirectoryQuery): boolean;
  /** Drop from the set of the open connection in place (WS); `false` as for {@link subscribe}. */
  unsubscribe?(channels: readonly string[]): boolean;
}
