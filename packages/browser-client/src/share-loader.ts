import type { BoardcastError, ClientContract, ContractSpec } from '@boardcast/core';
import type { Transport } from './client.js';
import type { ShareModel, ShareOptions } from './share.js';

/**
 * Tab sharing (share.ts) loaded on first use, so it stays out of the
 * page's initial bundle: the transport itself where nothing can be shared
 * (`share: false`, not a page, no `BroadcastChannel`), else a stand-in that
 * loads the sharing code on the first dial or command and hands over to it
 * (or, should the chunk fail to load, to the plain transport).
 */
export function shareLazily<C extends ContractSpec, T extends Transport>(
  transport: T,
  contract: C | ClientContract<C>,
  url: string,
  options: ShareOptions,
  /** What the frames mean, when not the single stream's (channel clients: share-channels.ts). */
  model?: () => Promise<ShareModel>,
): T {
  const page = typeof window === 'object' && typeof document === 'object';
  if (!(options.share ?? page) || typeof BroadcastChannel !== 'function') return transport;
  let shared: T | undefined;
  let loading: Promise<T> | undefined;
  const load = () =>
    (loading ??= Promise.all([import('./share.js'), model?.()]).then(
      ([m, frames]) =>
        (shared = m.shareTransport(
          transport,
          contract,
          m.shareIdentity(url, options) + (frames ? ' channels' : ''),
          options,
          frames,
        ) as T),
      () => (shared = transport),
    ));
  // A channel client passes its set after the sink.
  const dial = (t: Transport, args: unknown[]) => (t.dial as (...a: unknown[]) => () => void)(...args);
  return {
    name: transport.name,
    dial(...args: unknown[]) {
      if (shared) return dial(shared, args);
      let abort: (() => void) | undefined;
      let cancelled = false;
      load().then((t) => {
        if (!cancelled) abort = dial(t, args);
      });
      return () => {
        cancelled = true;
        abort?.();
      };
    },
    // A channel client passes the channel after the timeout.
    command: (...args: [string, unknown, number]) =>
      shared ? shared.command(...args) : load().then((t) => t.command(...args)),
    stop(error: BoardcastError) {
      if (shared) shared.stop(error);
      else if (loading) loading.then((t) => t.stop(error));
      else transport.stop(error);
    },
  } as Transport as T;
}
