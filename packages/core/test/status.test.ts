// The server status frame's payload.
import { describe, expect, it } from 'vitest';
import { parseServerStatus } from '../src/wire.js';

describe('parseServerStatus', () => {
  it('reads both statuses and nothing else', () => {
    expect(parseServerStatus({ bus: 'ok' })).toStrictEqual({ bus: 'ok' });
    expect(parseServerStatus({ bus: 'degraded', extra: 1 })).toStrictEqual({ bus: 'degraded' });
    expect(parseServerStatus({ bus: '' })).toBeUndefined();
    expect(parseServerStatus({ bus: 'down' })).toBeUndefined();
    expect(parseServerStatus(null)).toBeUndefined();
    expect(parseServerStatus('ok')).toBeUndefined();
  });
});
