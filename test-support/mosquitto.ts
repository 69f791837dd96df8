/** A real mosquitto broker for tests that need one (@boardcast/mqtt, the LED demo on MQTT). */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { daemon, freePort } from './daemon.js';
import { mosquittoPath } from './system.js';

export interface MosquittoOptions {
  /**
   * Require these users (a password file made with `mosquitto_passwd`);
   * anonymous clients are then refused. Default: anonymous allowed.
   */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Serve TLS only (`mqtts://`), with a certificate for 127.0.0.1 from a
   * CA made for this broker; `clientCertificates` also requires every
   * client to present a certificate from that CA (`require_certificate`).
   */
  readonly tls?: { readonly clientCertificates?: boolean };
}

/** PEM files of a broker started with `tls`. */
export interface MosquittoTls {
  /** The CA that signed the broker's and the client's certificates. */
  readonly ca: Buffer;
  /** A client certificate and key signed by `ca` (CN `boardcast-test-client`). */
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface MosquittoProcess {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>` (`mqtts://` with `tls`) */
  readonly url: string;
  /** With `tls`: the CA and a client certificate. */
  readonly tls: MosquittoTls | undefined;
  /** Kill with SIGKILL (every client sees its TCP connection reset) and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port with the same configuration (retained messages are gone: no persistence). */
  start(): Promise<void>;
  /** Kill and remove the configuration directory. */
  stop(): Promise<void>;
}

/**
 * A real mosquitto on 127.0.0.1 only, from a generated configuration: one
 * listener, no persistence (a restart loses retained messages, as a broker
 * without a persistence file does — the hard case for a resync), logging to
 * stderr so a failed start shows why.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoProcess> {
  if (!mosquittoPath) throw new Error('mosquitto is not installed (sudo apt-get install mosquitto)');
  const binary = mosquittoPath;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-mosquitto-'));
  const lines = [
    `listener ${port} 127.0.0.1`,
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
  ];
  // Started as root, mosquitto switches to the `mosquitto` user, which cannot
  // read our private temporary directory: stay the user we are.
  if (process.getuid?.() === 0) lines.push('user root');
  if (options.users) {
    const passwordFile = join(dir, 'passwd');
    writeFileSync(passwordFile, '', { mode: 0o600 });
    const passwd = join(dirname(binary), '..', 'bin', 'mosquitto_passwd');
    const tool = existsSync(passwd) ? passwd : 'mosquitto_passwd';
    for (const [user, password] of Object.entries(options.users)) {
      execFileSync(tool, ['-b', passwordFile, user, password], { stdio: 'ignore' });
    }
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  let tls: MosquittoTls | undefined;
  if (options.tls) {
    tls = makeCertificates(dir);
    lines.push(
      `cafile ${join(dir, 'ca.crt')}`,
      `certfile ${join(dir, 'server.crt')}`,
      `keyfile ${join(dir, 'server.key')}`,
    );
    if (options.tls.clientCertificates) lines.push('require_certificate true');
  }
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const { start, kill } = daemon({
    name: 'mosquitto',
    binary,
    args: ['-c', config],
    ready: /mosquitto version \S+ running/,
  });

  await start();
  return {
    port,
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    tls,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
function makeCertificates(dir: string): MosquittoTls {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const subject = (cn: string) => ['-subj', `/CN=${cn}`];
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    ...subject('boardcast-test-ca'),
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', ['-extfile', 'san.ext']],
    ['client', 'boardcast-test-client', []],
  ] as const) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, ...subject(cn));
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      ...ext,
    );
  }
  return {
    ca: readFileSync(join(dir, 'ca.crt')),
    cert: readFileSync(join(dir, 'client.crt')),
    key: readFileSync(join(dir, 'client.key')),
  };
}

export interface MosquittoSuite {
  /** The suite's broker (started in `beforeAll`). */
  readonly broker: MosquittoProcess;
  /** Run `fn` after the current test (last registered runs first). */
  defer(fn: () => unknown): void;
}

/**
 * One broker per `describe` and per-test cleanup: call inside a `describe`
 * (it registers `beforeAll`, `afterEach` and `afterAll`).
 */
export function useMosquitto(options: MosquittoOptions = {}): MosquittoSuite {
  let broker: MosquittoProcess | undefined;
  const cleanup: (() => unknown)[] = [];
  beforeAll(async () => {
    broker = await startMosquitto(options);
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await broker?.stop();
  });
  return {
    get broker() {
      if (!broker) throw new Error('the broker starts in beforeAll');
      return broker;
    },
    defer: (fn) => cleanup.push(fn),
  };
}
