#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startFleet } from './server.js';
import { readBoardTokens, readUsers } from './users.js';

const USAGE = `Usage: pnpm --filter fleet start [-- options]

  --port <n>            port (default: $PORT or 3002)
  --host <addr>         interface to listen on (default: all)
  --boards <n>          simulated boards board-1 … board-N (default 12)
  --first-board <n>     number the simulated boards from n (default 1): board-n …
  --redis <url>         share events, state and the directory with other instances ($REDIS_URL)
  --users <file>        users, tokens and rights (see users.example.json); without it one open
                        "admin" sees and switches every board
  --board-link <file>   accept remote boards (the board agent) on ws://…/board; the file maps
                        board id → token: { "boards": { "esp32-1": "token" } }
  --board-retention-ms <n>
                        a remote board that left stays listed, offline, this many ms, then its
                        row goes (default 600000, 10 min; at most 2147483647, ~24.8 days)
  --mqtt-url <url>      discover the devices on this broker (Tasmota, Home Assistant discovery)
  --allowed-host <name> a LAN name browsers may use besides localhost (repeatable)
  --trust-proxy <addr>  a reverse proxy in front (address or CIDR, e.g. 127.0.0.1) whose
                        X-Forwarded-For/-Host/-Proto are believed; repeatable ($TRUST_PROXY,
                        comma-separated). Unset = those headers are ignored
  -h, --help            this text`;

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

const { values } = (() => {
  try {
    return parseArgs({
      // `pnpm --filter fleet start -- --boards 5` passes the `--` on: drop it.
      args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--')),
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        boards: { type: 'string' },
        'first-board': { type: 'string' },
        redis: { type: 'string' },
        users: { type: 'string' },
        'board-link': { type: 'string' },
        'board-retention-ms': { type: 'string' },
        'mqtt-url': { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        'trust-proxy': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    // An unknown option, a missing value, a stray positional: parseArgs says which.
    fail(error instanceof Error ? error.message : String(error));
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = listenPort(values.port, 3002);
const boards = values.boards === undefined ? 12 : Number(values.boards);
if (!Number.isInteger(boards) || boards < 0 || boards > 100_000) fail('--boards must be a whole number up to 100000');
const firstBoard = values['first-board'] === undefined ? 1 : Number(values['first-board']);
if (!Number.isInteger(firstBoard) || firstBoard < 0 || firstBoard > 1_000_000) {
  fail('--first-board must be a whole number up to 1000000');
}
const retention = values['board-retention-ms'];
const retentionMs = retention === undefined ? undefined : Number(retention);
if (retentionMs !== undefined && !(Number.isInteger(retentionMs) && retentionMs >= 0 && retentionMs <= 2_147_483_647)) {
  fail('--board-retention-ms must be a whole number of ms from 0 to 2147483647');
}
const redis = values.redis ?? process.env.REDIS_URL;
if (redis) {
  // The hub loads the shared state before serving: say what it waits for (a password stays out of the log).
  let shown = redis;
  try {
    const url = new URL(redis);
    if (url.password) url.password = '***';
    shown = url.toString();
  } catch {
    // Not a URL: ioredis reports it.
  }
  console.log(`fleet: waiting for Redis at ${shown}; it starts once Redis answers`);
}
/** A users or board tokens file, or exit 2 with the one line that says what is wrong in it. */
function readFile<T>(option: string, path: string | undefined, read: (path: string) => T): T | undefined {
  if (!path) return undefined;
  try {
    return read(path);
  } catch (error) {
    console.error(`fleet: ${option} ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}
const users = readFile('--users', values.users, readUsers);
const boardLink = readFile('--board-link', values['board-link'], readBoardTokens);
const fleet = await startFleet({
  port,
  host: values.host,
  boards,
  firstBoard,
  redis,
  users,
  allowedHosts: values['allowed-host'],
  trustProxy:
    values['trust-proxy'] ??
    process.env.TRUST_PROXY?.split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  boardLink,
  boardLinkOptions: retentionMs === undefined ? undefined : { retentionMs },
  mqttUrl: values['mqtt-url'] ?? process.env.MQTT_URL,
});
console.log(
  `fleet: ${boards} simulated boards on ${fleet.url}${redis ? ' (sharing Redis)' : ''}${values.users ? ' (log in with /?token=<your token>)' : ''}`,
);
const stop = () => void fleet.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
