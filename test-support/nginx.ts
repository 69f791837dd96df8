/**
 * A real nginx (Debian's) in front of an app under test: started on a free
 * port with its own config, pid file, logs and temp dirs in a fresh folder,
 * in the foreground (`daemon off`), killed and removed by `stop()`.
 *
 * `server` is the text of one or more http-level blocks (a `server { … }`,
 * `map`s), usually the README's recipe with the test's ports and files put
 * in. `tls()` makes a self-signed certificate for localhost/127.0.0.1.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from './ports.mjs';
import { nginxPath } from './system.js';

export { freePort };

export interface Nginx {
  readonly port: number;
  readonly dir: string;
  /** nginx's error log so far (for a failing test's message). */
  errors(): string;
  /** Kill nginx (SIGKILL) and remove its folder. */
  stop(): Promise<void>;
}

export interface Certificate {
  readonly cert: string;
  readonly key: string;
}

/** A self-signed certificate for `localhost` and `127.0.0.1` in `dir` (openssl). */
export function selfSignedCertificate(dir: string): Certificate {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/**
 * Start nginx with `server(port, dir)` as its http-level configuration,
 * `port` being the free port it must listen on and `dir` its own folder
 * (for certificates and the like). Resolves once the port accepts.
 */
export async function startNginx(server: (port: number, dir: string) => string): Promise<Nginx> {
  if (!nginxPath) throw new Error('nginx is not installed (apt-get install nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, sub));
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const config = `
${root ? 'user root;' : ''}
# One process (no master/workers), so SIGKILL leaves nothing behind.
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${server(port, dir)}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(
    nginxPath,
    ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const errors = () => {
    try {
      return readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = `${output}${errors()}`;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx exited with ${child.exitCode}:\n${log}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      const log = `${output}${errors()}`;
      await stop();
      throw new Error(`nginx did not start:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, dir, errors, stop };
}
