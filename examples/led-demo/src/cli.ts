#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { BoardChoice } from './boards.js';
import { startDemo } from './server.js';

const USAGE = `Usage: pnpm demo [-- options]

  --port <n>              port (default: $PORT or 3000)
  --host <addr>           interface to listen on (default: all)
  --allowed-host <name>   a name browsers and boards may use besides localhost, IP literals and
                          this machine's name (e.g. pi.lan, or .lan for the domain); repeatable.
                          Other Host headers get 403 forbidden_host (DNS rebinding)
  --trust-proxy <addr>    a reverse proxy in front (address or CIDR, e.g. 127.0.0.1) whose
                          X-Forwarded-For/-Host/-Proto are believed; repeatable ($TRUST_PROXY,
                          comma-separated). Unset = those headers are ignored
  --transport sse|ws      transport a fresh page uses (default sse; the page can switch)
  --board sim|remote|gpio|mqtt|none
                          which board to drive (default sim; none = pages only, needs --redis)
  --redis <url>           share events and state with other instances ($REDIS_URL)
  --token <secret>        remote: the token board agents must present ($BOARD_TOKEN)
  --page-token <secret>   the page and its commands need this secret ($PAGE_TOKEN); open the
                          printed /?token=… address once, scripts send "Authorization: Bearer";
                          unset = anyone who can reach the port may watch and switch the LED
  --board-id <id>         remote: the agent's board id (default esp32)
  --led-pin <n>           GPIO of the LED (default 5)
  --button-pin <n>        GPIO of the push-button (default 0)
  --input-pin <n>         GPIO of the extra input (default 4)
  --gpio-chip <chip>      gpio: chip whose line offsets the pin numbers are (label such as
                          pinctrl-rp1, or gpiochipN; default: the Raspberry Pi's chip, found
                          by label, so pins are BCM numbers)
  --mqtt-url <url>        mqtt: the broker (mqtt://host:1883, mqtts://user:pass@host:8883) ($MQTT_URL)
  --device <topic>        mqtt: the Tasmota device's Topic; its relay 1 is the LED
  -h, --help              this text`;

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

function pin(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1023) fail(`--${name} must be a GPIO number`);
  return n;
}

const { values } = (() => {
  try {
    return parseArgs({
      // `pnpm --filter led-demo start -- --board remote` hands the `--` through.
      args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--')),
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        'trust-proxy': { type: 'string', multiple: true },
        transport: { type: 'string' },
        board: { type: 'string' },
        redis: { type: 'string' },
        token: { type: 'string' },
        'page-token': { type: 'string' },
        'board-id': { type: 'string' },
        'led-pin': { type: 'string' },
        'button-pin': { type: 'string' },
        'input-pin': { type: 'string' },
        'gpio-chip': { type: 'string' },
        'mqtt-url': { type: 'string' },
        device: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const port = listenPort(values.port, 3000);
const transport = values.transport ?? 'sse';
if (transport !== 'sse' && transport !== 'ws') fail('--transport must be sse or ws');
const pins = {
  led: pin(values['led-pin'], 'led-pin'),
  button: pin(values['button-pin'], 'button-pin'),
  input: pin(values['input-pin'], 'input-pin'),
};

const redis = values.redis ?? process.env.REDIS_URL;
let board: BoardChoice | { kind: 'none' };
switch (values.board ?? 'sim') {
  case 'sim':
    board = { kind: 'sim' };
    break;
  case 'remote': {
    const token = values.token ?? process.env.BOARD_TOKEN;
    if (!token) fail('--board remote needs --token (or BOARD_TOKEN): the secret your agents present');
    board = { kind: 'remote', token, id: values['board-id'] ?? 'esp32' };
    break;
  }
  case 'gpio':
    // BCM pin numbers; the Pi's chip is found by its label.
    board = values['gpio-chip'] ? { kind: 'gpio', chip: values['gpio-chip'] } : { kind: 'gpio' };
    break;
  case 'mqtt': {
    const url = values['mqtt-url'] ?? process.env.MQTT_URL;
    if (!url) fail('--board mqtt needs --mqtt-url (or MQTT_URL): the broker the device uses');
    if (!values.device) fail("--board mqtt needs --device: the Tasmota device's Topic");
    board = { kind: 'mqtt', url, device: values.device };
    break;
  }
  case 'none':
    if (!redis) fail('--board none serves pages for a board on another instance: it needs --redis');
    board = { kind: 'none' };
    break;
  default:
    fail('--board must be sim, remote, gpio, mqtt or none');
}

const demo = await startDemo({
  port,
  host: values.host,
  allowedHosts: values['allowed-host'],
  trustProxy:
    values['trust-proxy'] ??
    process.env.TRUST_PROXY?.split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  transport,
  board,
  redis,
  pageToken: values['page-token'] ?? process.env.PAGE_TOKEN,
  pins: Object.fromEntries(Object.entries(pins).filter(([, v]) => v !== undefined)),
}).catch((error: unknown) => {
  console.error(`Could not start the demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

const where = demo.board ? `${demo.board.kind} board "${demo.board.id}"` : 'the board of another instance';
console.log(`LED demo on ${where}, ${transport.toUpperCase()} by default${redis ? `, sharing ${redis}` : ''}`);
const pageToken = values['page-token'] ?? process.env.PAGE_TOKEN;
if (pageToken) {
  console.log(`Open ${demo.url}?token=${encodeURIComponent(pageToken)} (once per browser: it stores a session cookie)`);
} else {
  console.log(`Open ${demo.url}`);
  console.log('Anyone who can reach this port may watch and switch the LED (--page-token <secret> to require one)');
}
if (values.board === 'remote') {
  console.log(`Board agents dial ws://<this-host>:${demo.port}/board (the board stays offline until one says hello)`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping…');
    void demo.close().then(() => process.exit(0));
  });
}
