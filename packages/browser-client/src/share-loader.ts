import type { ClientContract, ContractSpec } from '@boardcast/core';
import type { Transport } from './client.js';
import type { ShareModel, ShareOptions } from './share.js';

/**
 * Tab sharing (share.ts) loaded on first use, so it stays out of the
 * page's initial bundle: the transport itself where nothing can be shared
 * (`share: false`, not a page, no `BroadcastChannel`), else a stand-in that
 * starts loading the sharing code at once and hands every call over to it
 * (or, should the chunk fail to load, to the plain transport). Arguments
 * pass through as they are: a channel client dials with its set after the
 * sink and names the channel after a command's timeout.
 */
export function shareLazily<C extends ContractSpec, T extends Transport>(
  transport: T,
  contract: C | ClientContract<C>,
  url: string,
  options: ShareOptions,
  /** What the frames mean, when not the single stream's (channel clients: share-channels.ts). */
  model?: () => Promise<ShareModel>,
): T {
  if (!(options.share ?? typeof document === 'object') || typeof BroadcastChannel !== 'function') return transport;
  let shared: Transport | undefined;
  const loaded = Promise.all([import('./share.js'), model?.()]).then(
    ([m, frames]) =>
      (shared = m.shareTransport(
        transport,
        contract,
        m.shareIdentity(url, options) + (frames ? ' channels' : ''),
        options,
        frames,
      )),
    () => (shared = transport),
  );
  // biome-ignore lint/suspicious/noExplicitAny: the arguments of either transport's methods, passed on as they are
  type Call = (t: any) => any;
  const later = (call: Call) => (shared ? call(shared) : loaded.then(call));
  return {
    name: transport.name,
    dial(...args: unknown[]) {
      let abort: (() => void) | undefined;
      let cancelled = false;
      later((t) => {
        if (!cancelled) abort = t.dial(...args);
      });
      return () => {
        cancelled = true;
        abort?.();
      };
    },
    command: (...args: unknown[]) => later((t) => t.command(...args)),
    stop: (error: unknown) => later((t) => t.stop(error)),
  } as unknown as T;
}
