import { createHub, defineContract, typed } from '@boardcast/core';

/** The bench's contract: one ~100-byte `tick` event and an echo-like `ping` command. */
export const contract = defineContract({
  events: { tick: typed() },
  commands: { ping: { input: typed(), result: typed() } },
  state: typed(),
});

export function benchHub(bus) {
  const hub = createHub(contract, { state: { started: Date.now() }, ...(bus ? { bus } : {}) });
  // A handler that does what an LED command does minus the hardware: read the
  // input, answer with a small object.
  hub.handle('ping', (input) => ({ t: input.t }));
  hub.on('error', (error, where) => console.error(`[hub] ${where}:`, error));
  return hub;
}

/**
 * The hub of the `channels` scenario: `channels` channels (`c0` … `c<n-1>`),
 * each with one or more subscribers, none of them authenticated. Every limit
 * that counts channels or subscriptions is raised to the scenario's size
 * (the defaults, 10,000 each, would sit exactly at the 10,000 of the issue);
 * everything else is the default (history 100 events per channel within the
 * hub-wide 32 MiB).
 */
export function channelsHub(channels) {
  const hub = createHub(contract, {
    state: { started: Date.now() },
    maxChannels: channels + 16,
    maxSubscriptionsPerPrincipal: channels * 4 + 16,
  });
  hub.on('error', (error, where) => console.error(`[hub] ${where}:`, error));
  const handles = Array.from({ length: channels }, (_, k) => hub.channel(`c${k}`));
  return { hub, handles };
}
