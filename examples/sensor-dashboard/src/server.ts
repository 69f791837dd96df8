import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BoardcastError, type Hub } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import {
  boardcastHttp,
  createHostGuard,
  type ServerTimeouts,
  serverTimeouts,
  setSecurityHeaders,
} from '@boardcast/sse-server';
import { createTelemetryRoutes, record, type TelemetryStore } from '@boardcast/telemetry';
import { openSqliteStore } from '@boardcast/telemetry/sqlite';
import { createWsEndpoint } from '@boardcast/ws-server';
import { createAccess } from './access.js';
import type { dashboard, Reading } from './contract.js';
import { createDashboardHub, type DashboardHub, type DashboardHubOptions } from './dashboard-hub.js';
import { createIngestHandler } from './ingest.js';
import { SENSOR_NAMES, SENSORS, type SensorName } from './sensors.js';
import { createStaticHandler } from './static-files.js';

// One dashboard tab holds one stream; 50 per address serves an office behind one NAT while no
// single host can take every slot.
const STREAMS_PER_ADDRESS = 50;

export interface DashboardOptions extends DashboardHubOptions {
  /** Port to listen on; 0 picks a free one (default 3001, beside the LED demo on 3000). */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`; use `0.0.0.0` so a real board on the LAN can reach it). */
  readonly host?: string;
  /** Bearer token devices must send to `POST /api/readings`; unset = open ingest. */
  readonly token?: string | undefined;
  /** Largest ingest body in bytes (default 65536). */
  readonly maxBodyBytes?: number;
  /** Directory holding the built page (`index.html`, `app.js`, `app.css`). */
  readonly assetsDir: string;
  /**
   * Secret for the state-changing commands (`set_alarm`, `inject`). Unset:
   * anyone who can reach the server may run them. Set: they need the page's
   * session cookie (open `/?token=<secret>` once) or
   * `Authorization: Bearer <secret>`; watching stays open. See access.ts.
   */
  readonly controlToken?: string | undefined;
  /** Node HTTP timeouts (ms); defaults in @boardcast/sse-server's `DEFAULT_SERVER_TIMEOUTS`. */
  readonly timeouts?: Partial<ServerTimeouts>;
  /** SSE streams, and WebSockets, one remote address may hold (default 50 each). */
  readonly maxStreamsPerAddress?: number;
  /**
   * Host names besides localhost, IP literals and this machine's own name
   * that browsers and devices may use (`dash.lan`, or `.lan` for a domain).
   * Every other `Host` gets 403 `forbidden_host` on every route: the defence
   * against DNS rebinding.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Reverse proxies in front (addresses or CIDR ranges, e.g. `127.0.0.1`
   * for nginx or Caddy on this machine) whose `X-Forwarded-For`/`-Host`/
   * `-Proto` are believed on every route (`trustProxy` of sse-server,
   * ws-server and the telemetry routes): per-address stream caps count the
   * viewer behind the proxy, login throttling and the Host/Origin checks
   * see the page's public address. Default: none, those headers are ignored.
   */
  readonly trustProxy?: readonly string[];
  /**
   * Where readings are kept across restarts (main.ts opens a SQLite file or
   * PostgreSQL from `--db`/`--pg-url`). Default: an in-memory SQLite store
   * that lives as long as the server. The server records the hub's readings
   * into it and serves its chart queries under `/api/telemetry/`; it closes
   * only a store it opened itself.
   */
  readonly store?: TelemetryStore;
  /** One line per command and per refused connection (default: none). Errors always go to `console.error`. */
  readonly log?: ((line: string) => void) | undefined;
}

export interface RunningDashboard {
  /** `http://host:port` of the page. */
  readonly url: string;
  readonly port: number;
  readonly hub: Hub<typeof dashboard>;
  readonly server: Server;
  /** The readings store (the one given, or the in-memory default). */
  readonly store: TelemetryStore;
  close(): Promise<void>;
}

const API = '/api';

/**
 * One HTTP server for everything: the page, `GET /api/events` (SSE),
 * `POST /api/commands/<name>`, the `/api/ws` WebSocket and the device
 * ingest route `POST /api/readings`.
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const dashboardHub = createDashboardHub(options);
  const { hub } = dashboardHub;
  const access = createAccess(options.controlToken, options.trustProxy);
  const perAddress = options.maxStreamsPerAddress ?? STREAMS_PER_ADDRESS;
  const api = boardcastHttp(hub, {
    base: API,
    authorize: access.authorize,
    allowedHosts: options.allowedHosts,
    trustProxy: options.trustProxy,
    sse: { maxClientsPerAddress: perAddress },
  });
  const ingest = createIngestHandler(dashboardHub, {
    token: options.token,
    maxBodyBytes: options.maxBodyBytes ?? 65_536,
  });
  const assets = createStaticHandler(options.assetsDir);
  const store = options.store ?? openSqliteStore({ path: ':memory:' });
  const units = Object.fromEntries(SENSOR_NAMES.map((name) => [name, SENSORS[name].unit]));
  // Devices the store knows come back before anything is recorded (their readings are stored already).
  await restoreDevices(dashboardHub, store, options.capacity ?? 120, (error) =>
    console.error(`[sensor-dashboard] restore: ${logSafe(error instanceof Error ? error.message : error, 500)}`),
  );
  // Every `reading` the hub publishes (device, MQTT, injected) lands in the store, in batches.
  const recorder = record(hub, store, { units });
  recorder.on('error', (error, where) => hub.emit('error', error, where));
  // Chart history: watching is open like the stream; the same Host check and authorize as /api.
  const telemetry = createTelemetryRoutes(store, {
    authorize: access.authorize,
    allowedHosts: options.allowedHosts,
    trustProxy: options.trustProxy,
    recorder,
    onError: (error, where) => hub.emit('error', error, where),
  });

  const hostGuard = createHostGuard(options.allowedHosts, options.trustProxy);
  const server = createServer(serverTimeouts(options.timeouts), (req, res) => {
    setSecurityHeaders(res);
    const foreignHost = hostGuard(req);
    if (foreignHost) {
      res.writeHead(foreignHost.status, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify(foreignHost.toBody()));
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const { pathname } = url;
    if ((pathname === '/' || pathname === '/index.html') && access.login(req, res, url)) return;
    if (pathname === `${API}/readings`) ingest(req, res);
    else if (pathname.startsWith(`${API}/telemetry/`)) telemetry.node(req, res);
    else if (api.matches(pathname)) api.node(req, res);
    else assets(req, res);
  });
  const ws = createWsEndpoint(hub, {
    server,
    path: `${API}/ws`,
    authorize: access.authorize,
    allowedHosts: options.allowedHosts,
    trustProxy: options.trustProxy,
    maxClientsPerAddress: perAddress,
  });
  // Values from the network (command names from the URL path, messages that
  // quote input) pass through logSafe: a `%0A` cannot start a forged line.
  // The stack's frames are code locations, kept as lines; its message is escaped.
  hub.on('error', (error, where) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : error;
    const frames = error instanceof Error ? (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)) : [];
    console.error([`[sensor-dashboard] ${logSafe(where)}: ${logSafe(message, 1000)}`, ...frames].join('\n'));
  });
  const log = options.log;
  if (log) {
    hub.on('command', (c) =>
      log(
        `cmd  ${logSafe(c.command)} via ${c.transport}${c.clientId ? ` ${c.clientId}` : ''}: ${c.ok ? 'ok' : c.code} (${c.durationMs} ms)`,
      ),
    );
    api.commands.on('reject', (error, _req, command) =>
      log(`cmd  ${logSafe(command ?? '?')} via http: refused ${error.code}`),
    );
    api.sse.on('reject', (error) => log(`sse  refused    ${error.code}`));
    ws.on('reject', (rejection) => log(`ws   refused    ${rejection.status} ${rejection.code}`));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : 'localhost';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await api.close();
      await ws.close();
      // Readings still queued are written before the store closes.
      dashboardHub.close();
      await recorder.close();
      if (!options.store) await store.close();
      await hub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };
  return { url, port, hub, server, store, close };
}

/**
 * After a restart on the same store: every device with stored readings is
 * listed again (offline until it sends), with its newest `capacity` raw
 * readings per sensor (or, once retention dropped the raw rows, the newest
 * value the store keeps per sensor) as its chart, stats and latest value.
 * A device the dashboard cannot take (`maxDevices`) is reported, not fatal.
 */
async function restoreDevices(
  dashboardHub: DashboardHub,
  store: TelemetryStore,
  capacity: number,
  report: (error: unknown) => void,
): Promise<void> {
  const byDevice = new Map<string, SensorName[]>();
  for (const { channel, sensor } of await store.series()) {
    if (!(SENSOR_NAMES as readonly string[]).includes(sensor)) continue;
    byDevice.set(channel, [...(byDevice.get(channel) ?? []), sensor as SensorName]);
  }
  for (const [device, sensors] of byDevice) {
    const readings: Reading[] = [];
    for (const sensor of sensors) {
      let rows = await store.recent({ channel: device, sensor, limit: capacity });
      if (rows.length === 0) rows = await store.latest({ channel: device, sensor });
      for (const row of [...rows].reverse()) readings.push({ sensor, value: row.value, at: row.t });
    }
    try {
      dashboardHub.restore(device, readings);
    } catch (error) {
      report(error);
      if (error instanceof BoardcastError && error.code === 'too_many_channels') return;
    }
  }
}
