import { createHub, defineContract, typed } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { createWsEndpoint, type WsEndpointOptions } from '../src/index.js';

const contract = defineContract({ events: { tick: typed<number>() }, commands: {}, state: typed<{ n: number }>() });

describe('options removed in 0.2', () => {
  it.each([
    ['heartbeatMs', 1000, /"heartbeatMs" was removed in 0\.2; use keepAliveMs/],
    ['backpressure', 'close', /"backpressure" was removed in 0\.2; use slowClient \('close' is now 'disconnect'\)/],
    ['origins', '*', /"origins" was removed in 0\.2; use allowedOrigins/],
  ])('%s throws a TypeError naming its replacement', (name, value, message) => {
    const hub = createHub(contract, { state: { n: 0 } });
    const options = { [name]: value } as unknown as WsEndpointOptions;
    expect(() => createWsEndpoint(hub, options)).toThrow(TypeError);
    expect(() => createWsEndpoint(hub, options)).toThrow(message);
    void hub.close();
  });
});
