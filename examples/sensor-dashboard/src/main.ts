import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CHANNEL } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import type { TelemetryStore } from '@boardcast/telemetry';
import { openPostgresStore } from '@boardcast/telemetry/postgres';
import { openSqliteStore } from '@boardcast/telemetry/sqlite';
import { type MqttSensorTopic, parseSensorTopic, startMqttIngest } from './mqtt-ingest.js';
import { startDashboard } from './server.js';

const USAGE = `Usage: pnpm --filter sensor-dashboard start [-- options]

  --port <n>              port (default: $PORT or 3001; 0 = a free port)
  --host <addr>           interface to listen on (default: $HOST or 127.0.0.1; 0.0.0.0 for the LAN)
  --interval <ms>         how often the simulated devices post ($DEVICE_INTERVAL_MS; default 1000)
  --devices <n>           simulated devices, 1 to 100 ($DEVICES; default 1, posting as the default
                          device; more are device-1 … device-N)
  --no-device             start no simulated device (use a real board)
  --control-token <secret>
                          the secret set_alarm and inject need ($CONTROL_TOKEN); unset on a host
                          other than loopback = a random one is made and printed
  --allowed-host <name>   a name browsers and devices may use besides localhost, IP literals and
                          this machine's name (e.g. dash.lan, or .lan for the domain); repeatable
  --trust-proxy <addr>    a reverse proxy in front (address or CIDR, e.g. 127.0.0.1) whose
                          X-Forwarded-For/-Host/-Proto are believed; repeatable ($TRUST_PROXY,
                          comma-separated). Unset = those headers are ignored
  --mqtt-url <url>        also take readings from this MQTT broker ($MQTT_URL)
  --mqtt-sensor [<device>/]<sensor>=<topic>[:<json.path>]
                          which topic feeds which sensor; repeatable
                          (e.g. kitchen/temperature=tele/kitchen/SENSOR:AM2301.Temperature)
  --db <file>             the SQLite file readings are kept in ($DB; default data/readings.db)
  --pg-url <url>          keep readings in PostgreSQL instead ($PG_URL); not with --db
  -h, --help              this text

  $INGEST_TOKEN           the bearer token devices must send to POST /api/readings (unset = open)`;

/** Simulated devices `--devices` may start. */
const MAX_SIMULATED = 100;

/** Readings are kept here unless `--db`/`--pg-url` says otherwise: beside the example, not in the build. */
const DEFAULT_DB = fileURLToPath(new URL('../data/readings.db', import.meta.url));

/** Loopback listen addresses: only this machine can reach the server. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** A command line this cannot run: say what is wrong, show the usage, exit 2. */
function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

/**
 * The port to listen on: `--port`, else $PORT, else `fallback`; 0 = a free port. Anything but a
 * whole number from 0 to 65535 (an empty value too) is refused, naming where it came from.
 */
function listenPort(option: string | undefined, fallback: number): number {
  const [source, text] = option === undefined ? ['PORT', process.env.PORT] : ['--port', option];
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    fail(`${source} must be a whole number from 0 to 65535 (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer (got "${text}")`);
  return value;
}

async function main(): Promise<void> {
  let values: {
    port?: string;
    host?: string;
    interval?: string;
    devices?: string;
    'no-device'?: boolean;
    'control-token'?: string;
    help?: boolean;
    'mqtt-url'?: string;
    'mqtt-sensor'?: string[];
    'allowed-host'?: string[];
    'trust-proxy'?: string[];
    db?: string;
    'pg-url'?: string;
  };
  try {
    ({ values } = parseArgs({
      // `pnpm start -- --port 3002` may hand the `--` through.
      args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--')),
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        interval: { type: 'string' },
        // Simulated devices: 1 (default) posts as the default device, as before; N > 1 are device-1 … device-N.
        devices: { type: 'string' },
        'no-device': { type: 'boolean' },
        'control-token': { type: 'string' },
        'mqtt-url': { type: 'string' },
        'mqtt-sensor': { type: 'string', multiple: true },
        // Names browsers and devices may use besides localhost, IP literals and this machine's name.
        'allowed-host': { type: 'string', multiple: true },
        // A reverse proxy in front (nginx, Caddy): its forwarding headers are believed, nobody else's.
        'trust-proxy': { type: 'string', multiple: true },
        // Where readings outlive the process: a SQLite file, or PostgreSQL for many instances.
        db: { type: 'string' },
        'pg-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = listenPort(values.port, 3001);
  const intervalMs = number('--interval', values.interval ?? process.env.DEVICE_INTERVAL_MS, 1000);
  const deviceCount = number('--devices', values.devices ?? process.env.DEVICES, 1);
  if (deviceCount < 1 || deviceCount > MAX_SIMULATED) {
    fail(`--devices must be between 1 and ${MAX_SIMULATED} (got ${deviceCount}); --no-device starts none`);
  }
  const simulated = values['no-device']
    ? []
    : deviceCount === 1
      ? [undefined]
      : Array.from({ length: deviceCount }, (_, i) => `device-${i + 1}`);
  const token = process.env.INGEST_TOKEN || undefined;
  const here = fileURLToPath(new URL('.', import.meta.url));
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  // Beyond loopback, alarms and injected readings are not left to anyone on the network.
  const controlToken =
    values['control-token'] ||
    process.env.CONTROL_TOKEN ||
    (isLoopback(host) ? undefined : randomBytes(18).toString('base64url'));

  const pgUrl = values['pg-url'] ?? process.env.PG_URL;
  const dbPath = values.db ?? process.env.DB ?? DEFAULT_DB;
  if (pgUrl && values.db) fail('give --db or --pg-url, not both');
  let store: TelemetryStore;
  if (pgUrl) store = await openPostgresStore({ connectionString: pgUrl });
  else {
    mkdirSync(dirname(dbPath), { recursive: true });
    store = openSqliteStore({ path: dbPath });
  }
  store.on('error', (error, where) =>
    console.error(`telemetry ${where}: ${logSafe(error instanceof Error ? error.message : error, 500)}`),
  );

  const dashboard = await startDashboard({
    store,
    port,
    host,
    token,
    controlToken,
    allowedHosts: values['allowed-host'],
    trustProxy:
      values['trust-proxy'] ??
      process.env.TRUST_PROXY?.split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    log: (line) => console.log(line),
    assetsDir: `${here}public`,
    staleAfterMs: Math.max(10_000, intervalMs * 5),
    // Listed from the start; the single simulated device (or none) is the default device.
    devices: simulated.every((id) => id === undefined) ? [DEFAULT_CHANNEL] : (simulated as string[]),
  });
  if (controlToken) {
    console.log(`sensor dashboard: ${dashboard.url}/?token=${encodeURIComponent(controlToken)}`);
    console.log(
      'control: set_alarm and inject need that address opened once (session cookie) or "Authorization: Bearer <token>"; watching is open',
    );
  } else {
    console.log(`sensor dashboard: ${dashboard.url}`);
    console.log(
      'control: anyone who can reach this address may set alarms and inject readings (set CONTROL_TOKEN to restrict)',
    );
  }
  console.log(pgUrl ? 'readings: kept in PostgreSQL (--pg-url)' : `readings: kept in ${dbPath}`);
  console.log(
    token
      ? 'ingest: POST /api/readings requires "Authorization: Bearer $INGEST_TOKEN"'
      : 'ingest: POST /api/readings is open (set INGEST_TOKEN to require a bearer token)',
  );

  // Readings from MQTT sensor topics go through the same ingest route as HTTP devices.
  const mqttUrl = values['mqtt-url'] ?? process.env.MQTT_URL;
  let sensors: MqttSensorTopic[];
  try {
    sensors = (values['mqtt-sensor'] ?? []).map(parseSensorTopic);
  } catch (error) {
    fail((error as Error).message);
  }
  const mqtt = mqttUrl
    ? startMqttIngest({
        url: mqttUrl,
        sensors,
        ingestUrl: `${dashboard.url}/api/readings`,
        token,
        // Broker messages quote topics and payloads: one escaped line each.
        onError: (error) =>
          console.error(`mqtt ingest: ${logSafe(error instanceof Error ? error.message : error, 500)}`),
      })
    : undefined;
  if (mqtt) {
    const fed = sensors.map((s) => (s.device ? `${s.device}/${s.sensor}` : s.sensor));
    console.log(`mqtt: ${fed.join(', ') || 'no sensors (--mqtt-sensor)'} from ${mqttUrl}`);
  }

  let device: ChildProcess | undefined;
  const deviceScript = `${here}simulated-device.js`;
  if (simulated.length > 0 && existsSync(deviceScript)) {
    // A separate process, talking HTTP like a real board would (all simulated devices in it).
    const ids = simulated.filter((id) => id !== undefined);
    device = fork(deviceScript, [], {
      env: {
        ...process.env,
        DASHBOARD_URL: dashboard.url,
        DEVICE_INTERVAL_MS: String(intervalMs),
        DEVICE_IDS: ids.join(','),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const which = ids.length > 0 ? `${ids.length} devices (${ids[0]} … ${ids.at(-1)})` : 'one device';
    console.log(`device: simulated (pid ${device.pid}), ${which}, posting every ${intervalMs} ms`);
  } else {
    console.log('device: none started; point a board at POST /api/readings');
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    device?.kill();
    await mqtt?.close();
    await dashboard.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') console.error('that port is in use: try --port 3002 (or PORT=3002)');
  else console.error(error);
  process.exit(1);
});
