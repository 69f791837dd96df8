/**
 * A bus's health: `ok`, or `degraded` when it cannot currently reach what
 * it depends on (Redis down): events published here wait or fail, events
 * published elsewhere do not arrive, and commands routed through it cannot.
 */
export type BusStatus = 'ok' | 'degraded';

/**
 * What a client is told about the server it is connected to, beside the
 * stream: `bus` is the hub's {@link BusStatus}. Sent as a status frame (SSE
 * `event: ~status`, WS `{"type":"status","data":…}`) first on every stream of
 * a hub whose bus reports its health, and again on every change.
 */
export interface ServerStatus {
  readonly bus: BusStatus;
}

/**
 * Read a status frame's data; `undefined` when it is not one (a client then
 * ignores the frame rather than guessing).
 */
export function parseServerStatus(value: unknown): ServerStatus | undefined {
  const bus = value !== null && typeof value === 'object' ? (value as { bus?: unknown }).bus : undefined;
  return bus === 'ok' || bus === 'degraded' ? { bus } : undefined;
}
