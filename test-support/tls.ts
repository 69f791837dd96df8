/**
 * A throw-away certificate authority and one server certificate signed by
 * it, made with the system's `openssl` in a fresh temporary directory, for
 * tests that need TLS (HTTP/2 in browsers exists only over TLS). Browsers
 * trust it through `--ignore-certificate-errors-spki-list=<spki>` (the CA's
 * public-key hash), which accepts exactly this chain and nothing else —
 * never a blanket `--ignore-certificate-errors`.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** PEM of the CA certificate (pass as `ca` to Node clients). */
  readonly caCert: string;
  /** PEM of the server's key and its certificate (for `createSecureServer`). */
  readonly key: string;
  readonly cert: string;
  /**
   * The server certificate followed by the CA's: what a server must present
   * for the SPKI flag to apply (Chromium matches the hash against the
   * certificates the server sent, and an unknown CA is not looked up).
   */
  readonly chain: string;
  /** base64 SHA-256 of the CA's SubjectPublicKeyInfo, for Chromium's `--ignore-certificate-errors-spki-list`. */
  readonly spki: string;
  /** Deletes the directory. */
  remove(): void;
}

/** True when `openssl` can be run. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Make a CA and a server certificate for `names` (DNS names or IP addresses). */
export function makeTestCa(names: readonly string[] = ['localhost', '127.0.0.1']): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-ca-'));
  const file = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=boardcast test CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0]}`);
  const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  writeFileSync(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const caCert = readFileSync(file('ca.pem'), 'utf8');
  const cert = readFileSync(file('server.pem'), 'utf8');
  const spkiDer = new X509Certificate(caCert).publicKey.export({ type: 'spki', format: 'der' });
  return {
    caCert,
    key: readFileSync(file('server.key'), 'utf8'),
    cert,
    chain: cert + caCert,
    spki: createHash('sha256').update(spkiDer).digest('base64'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
