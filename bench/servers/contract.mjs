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
