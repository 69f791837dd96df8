import type { ClientContract, ContractSpec } from '@boardcast/core';
import type { Transport } from './client.js';
import type { ShareOptions } from './share.js';

/**
 * Tab sharing (share.ts) loaded on first use, so it stays out of the
 * page's initial bundle: the transport itself where nothing can be shared
 * (`share: false`, not a page, no `BroadcastChannel`), else a stand-in that
 * loads the sharing code on the first dial or command and hands over to it
 * (or, should the chunk fail to load, to the plain transport).
 */
export function shareLazily<C extends ContractSpec>(
  transport: Transport,
  contract: C | ClientContract<C>,
  url: string,
  options: ShareOptions,
): Transport {
  const page = typeof window === 'object' && typeof document === 'object';
  if (!(options.share ?? page) || typeof BroadcastChannel !== 'function') return transport;
  let shared: Transport | undefined;
  let loading: Promise<Transport> | undefined;
  const load = () =>
    (loading ??= import('./share.js').then(
      (m) => (shared = m.shareTransport(transport, contract, m.shareIdentity(url, options), options)),
      () => (shared = transport),
    ));
  return {
    name: transport.name,
    dial(lastEventId, sink) {
      if (shared) return shared.dial(lastEventId, sink);
      let abort: (() => void) | undefined;
      let cancelled = false;
      load().then((t) => {
        if (!cancelled) abort = t.dial(lastEventId, sink);
      });
      return () => {
        cancelled = true;
        abort?.();
      };
    },
    command: (name, input, timeoutMs) =>
      shared ? shared.command(name, input, timeoutMs) : load().then((t) => t.command(name, input, timeoutMs)),
    stop(error) {
      if (shared) shared.stop(error);
      else if (loading) loading.then((t) => t.stop(error));
      else transport.stop(error);
    },
  };
}
