import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../../test-support/nginx.js';
import { createTokenAccess, type TokenAccessOptions } from '../src/index.js';
import { listen, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A clock the test moves by hand (ms since the epoch). */
function clock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function handler(access: ReturnType<typeof createTokenAccess>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (access.login(req, res)) return;
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    try {
      const ok = access.allows({ header, raw: req });
      res.writeHead(ok ? 200 : 401).end(ok ? 'allowed' : 'refused');
    } catch (error) {
      res.writeHead((error as BoardcastError).status).end((error as BoardcastError).code);
    }
  };
}

/**
 * A real server: `?token=` logins go to `login`; every other request answers
 * 200 `allowed` or 401 `refused` from `allows` on the real request (429 when
 * it throws `too_many_requests`).
 */
async function serve(options: TokenAccessOptions) {
  const access = createTokenAccess(options);
  server = await listen(handler(access));
  return { access, url: server.url };
}

const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(url, { method, headers, redirect: 'manual' });

/** A GET from a chosen local address (127.0.0.2 …: another client as far as the server can tell). */
function getFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<number> {
  return answerFrom(localAddress, url, headers).then((res) => res.statusCode ?? 0);
}

function answerFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { localAddress, headers }, (res) => {
      res.resume();
      resolve(res);
    })
      .on('error', reject)
      .end();
  });
}

const cookieOf = (response: Response) => (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

describe('createTokenAccess', () => {
  it('without a token allows everyone and leaves ?token= alone', async () => {
    const { access, url } = await serve({ token: '', cookieName: 'app_session' });
    expect(access.required).toBe(false);
    expect(await (await get(url)).text()).toBe('allowed');
    expect(await (await get(`${url}/?token=x`)).text()).toBe('allowed');
  });

  it('with a token allows the Bearer holder only', async () => {
    const { access, url } = await serve({ token: 's3cret', cookieName: 'app_session', throttle: false });
    expect(access.required).toBe(true);
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { Authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await get(url, { Authorization: 'bearer s3cret ' })).status).toBe(200);
    expect((await get(url, { Authorization: 'Bearer s3cre' })).status).toBe(401);
    expect((await get(url, { Authorization: 'Basic s3cret' })).status).toBe(401);
  });

  it('?token= login sets an HttpOnly SameSite=Strict cookie, drops the token from the address, and the cookie then counts', async () => {
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session', maxAgeSeconds: 60, throttle: false });
    const wrong = await get(`${url}/?token=nope`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const login = await get(`${url}/index.html?view=2&token=s3cret`);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/index.html?view=2');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(
      /^app_session=\d+\.[\w-]{22}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=60$/,
    );
    expect(setCookie).not.toContain('s3cret');
    const pair = setCookie.split(';')[0] ?? '';

    expect(await (await get(url, { Cookie: `other=1; ${pair}` })).text()).toBe('allowed');
    expect((await get(url, { Cookie: `${pair}x` })).status).toBe(401);
    expect((await get(url, { Cookie: `app_session=${'A'.repeat(43)}` })).status).toBe(401);
    // Only GET/HEAD log in: a cross-site form POST with ?token= gets no cookie.
    expect((await get(`${url}/?token=s3cret`, {}, 'POST')).status).toBe(401);
  });

  it('every login gets its own cookie (time and nonce under the MAC); a forged time breaks the MAC', async () => {
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session' });
    const a = cookieOf(await get(`${url}/?token=s3cret`));
    const b = cookieOf(await get(`${url}/?token=s3cret`));
    expect(a).not.toBe(b);
    expect((await get(url, { Cookie: a })).status).toBe(200);
    expect((await get(url, { Cookie: b })).status).toBe(200);
    // Moving the issue time forward to extend the cookie's life: refused.
    const [issued, nonce, mac] = a.slice('app_session='.length).split('.');
    expect((await get(url, { Cookie: `app_session=${Number(issued) + 1}.${nonce}.${mac}` })).status).toBe(401);
  });

  it('the server refuses the cookie at its stated age, whatever the browser keeps', async () => {
    const time = clock();
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session', maxAgeSeconds: 3600, now: time.now });
    const pair = cookieOf(await get(`${url}/?token=s3cret`));
    time.advance(3600_000 - 1000);
    expect((await get(url, { Cookie: pair })).status).toBe(200);
    time.advance(1000);
    expect((await get(url, { Cookie: pair })).status).toBe(401);
    // A cookie "issued" far in the future (a forged or foreign clock) is refused too.
    const future = clock(Date.UTC(2026, 0, 2));
    const ahead = createTokenAccess({ token: 's3cret', cookieName: 'app_session', now: future.now });
    await server?.close();
    server = await listen(handler(ahead));
    const fromTomorrow = cookieOf(await get(`${server.url}/?token=s3cret`));
    await server.close();
    server = await listen(handler(createTokenAccess({ token: 's3cret', cookieName: 'app_session', now: time.now })));
    expect((await get(server.url, { Cookie: fromTomorrow })).status).toBe(401);
  });

  it('a cookie made for one token does not open a server with another', async () => {
    const first = await serve({ token: 'one', cookieName: 'app_session' });
    const pair = cookieOf(await get(`${first.url}/?token=one`));
    await server?.close();
    const second = await serve({ token: 'two', cookieName: 'app_session' });
    expect((await get(second.url, { Cookie: pair })).status).toBe(401);
    // The same token after a restart: the cookie still works.
    await server?.close();
    const again = await serve({ token: 'one', cookieName: 'app_session' });
    expect((await get(again.url, { Cookie: pair })).status).toBe(200);
  });

  it('finds the valid cookie among several of the same name (a planted one cannot lock the user out)', async () => {
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session' });
    const pair = cookieOf(await get(`${url}/?token=s3cret`));
    const planted = `app_session=1.${'A'.repeat(22)}.${'B'.repeat(43)}`;
    expect((await get(url, { Cookie: `${planted}; ${pair}` })).status).toBe(200);
    expect((await get(url, { Cookie: `${pair}; ${planted}` })).status).toBe(200);
    // …and a valid one does not get the planted one's name deleted.
    const page = await get(`${url}/`, { Cookie: `${planted}; ${pair}` });
    expect(page.headers.get('set-cookie')).toBeNull();
  });

  it('a failed check clears the stale cookie: on the next page and on a wrong login', async () => {
    const { url } = await serve({ token: 'two', cookieName: 'app_session', throttle: false });
    const stale = `app_session=1.${'A'.repeat(22)}.${'B'.repeat(43)}`;
    const page = await get(`${url}/`, { Cookie: stale });
    expect(page.status).toBe(401);
    expect(page.headers.get('set-cookie')).toBe('app_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
    const wrong = await get(`${url}/?token=one`, { Cookie: `__Host-app_session=x; ${stale}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.getSetCookie()).toEqual([
      'app_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
      '__Host-app_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure',
    ]);
    // No cookie of ours: nothing to clear.
    expect((await get(`${url}/`, { Cookie: 'other=1' })).headers.get('set-cookie')).toBeNull();
  });

  it('over HTTPS the cookie is __Host-prefixed and Secure, and is read back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-access-tls-'));
    try {
      const certificate = selfSignedCertificate(dir);
      const access = createTokenAccess({ token: 's3cret', cookieName: 'app_session' });
      const tls = createHttpsServer(
        { key: readFileSync(certificate.key), cert: readFileSync(certificate.cert) },
        handler(access),
      );
      server = await listen(tls);
      const base = server.url.replace('http:', 'https:');
      const call = (path: string, headers: Record<string, string> = {}) =>
        new Promise<IncomingMessage>((resolve, reject) => {
          httpsRequest(`${base}${path}`, { rejectUnauthorized: false, headers }, (res) => {
            res.resume();
            resolve(res);
          })
            .on('error', reject)
            .end();
        });
      const login = await call('/?token=s3cret');
      expect(login.statusCode).toBe(303);
      const setCookie = login.headers['set-cookie']?.[0] ?? '';
      expect(setCookie).toMatch(
        /^__Host-app_session=[\w.-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=2592000; Secure$/,
      );
      expect((await call('/', { Cookie: setCookie.split(';')[0] ?? '' })).statusCode).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throttles wrong tokens per address with a growing, bounded delay: 6 guesses in the first minute, then 1 a minute', async () => {
    const time = clock();
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session', now: time.now });
    // A guesser that retries the moment it may, for ten minutes of the test's clock:
    // each wrong guess is answered 401, the next attempt 429 with Retry-After, which it waits out.
    const compared: number[] = [];
    const delays: number[] = [];
    for (let ms = 0; ms < 10 * 60_000; ) {
      const response = await get(`${url}/?token=guess${ms}`);
      expect(response.status).toBe(401);
      compared.push(ms);
      const refused = await get(`${url}/?token=again${ms}`);
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers.get('retry-after'));
      delays.push(wait);
      time.advance(wait * 1000);
      ms += wait * 1000;
    }
    expect(compared.filter((ms) => ms < 60_000)).toEqual([0, 1000, 3000, 7000, 15000, 31000]);
    // Bounded: after the first minute, one a minute.
    expect(compared.filter((ms) => ms >= 60_000)).toEqual([
      63000, 123000, 183000, 243000, 303000, 363000, 423000, 483000, 543000,
    ]);
    expect(Math.max(...delays)).toBe(60);
    // While throttled even the right token is not compared (it would tell the guesser it was right).
    expect((await get(`${url}/?token=one-more`)).status).toBe(401);
    expect((await get(`${url}/?token=s3cret`)).status).toBe(429);
    // Another address is not affected; and its right token works at once.
    expect(await getFrom('127.0.0.2', `${url}/?token=s3cret`)).toBe(303);
    // After the wait, the right token logs in and clears the address.
    time.advance(60_000);
    expect((await get(`${url}/?token=s3cret`)).status).toBe(303);
    expect((await get(`${url}/?token=wrong`)).status).toBe(401);
    expect((await get(`${url}/?token=wrong`)).status).toBe(429);
  });

  it('throttles Bearer guesses too: allows throws too_many_requests (429 from authorize)', async () => {
    const time = clock();
    const access = createTokenAccess({ token: 's3cret', cookieName: 'app_session', now: time.now });
    const from = (clientAddress: string, token: string) => ({
      clientAddress,
      header: (name: string) => (name === 'authorization' ? `Bearer ${token}` : undefined),
    });
    expect(access.allows(from('192.0.2.1', 'nope'))).toBe(false);
    let thrown: unknown;
    try {
      access.allows(from('192.0.2.1', 's3cret'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BoardcastError);
    expect((thrown as BoardcastError).code).toBe('too_many_requests');
    expect(access.allows(from('192.0.2.2', 's3cret'))).toBe(true);
    // IPv6: one /64 is one address (a host picks any address in its /64).
    expect(access.allows(from('2001:db8:1:2::10', 'nope'))).toBe(false);
    expect(() => access.allows(from('2001:db8:1:2:ffff::1', 'nope'))).toThrow(/too many wrong tokens/);
    expect(access.allows(from('2001:db8:1:3::10', 's3cret'))).toBe(true);
    time.advance(1000);
    expect(access.allows(from('192.0.2.1', 's3cret'))).toBe(true);
  });

  it('behind a trusted proxy: throttles the forwarded client, and a login over X-Forwarded-Proto https gets the __Host- cookie', async () => {
    const time = clock();
    const { url } = await serve({
      token: 's3cret',
      cookieName: 'app_session',
      now: time.now,
      trustProxy: ['127.0.0.1'],
    });
    const as = (client: string, extra: Record<string, string> = {}) => ({ 'X-Forwarded-For': client, ...extra });
    expect((await get(`${url}/?token=nope`, as('198.51.100.1'))).status).toBe(401);
    expect((await get(`${url}/?token=nope`, as('198.51.100.1'))).status).toBe(429);
    // Another client behind the same proxy is not locked out with the first.
    const login = await get(`${url}/?token=s3cret`, as('198.51.100.2', { 'X-Forwarded-Proto': 'https' }));
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).toMatch(/^__Host-app_session=[\w.-]+; .*; Secure$/);
    // A peer that is no proxy cannot claim https or another address.
    const direct = await answerFrom(
      '127.0.0.2',
      `${url}/?token=s3cret`,
      as('198.51.100.3', { 'X-Forwarded-Proto': 'https' }),
    );
    expect(direct.statusCode).toBe(303);
    expect(direct.headers['set-cookie']?.[0]).toMatch(/^app_session=/);
    expect(await getFrom('127.0.0.2', `${url}/?token=nope`, as('198.51.100.4'))).toBe(401);
    expect(await getFrom('127.0.0.2', `${url}/?token=nope`, as('198.51.100.5'))).toBe(429);
  });

  it('forgets addresses beyond maxAddresses, least recently failing first', () => {
    const time = clock();
    const access = createTokenAccess({
      token: 's3cret',
      cookieName: 'app_session',
      now: time.now,
      throttle: { maxAddresses: 2 },
    });
    const from = (clientAddress: string) => ({
      clientAddress,
      header: (name: string) => (name === 'authorization' ? 'Bearer nope' : undefined),
    });
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) expect(access.allows(from(address))).toBe(false);
    expect(access.allows(from('10.0.0.1'))).toBe(false); // forgotten: compared again
    expect(() => access.allows(from('10.0.0.3'))).toThrow(BoardcastError);
  });

  it('refuses a bad cookie name, lifetime or throttle', () => {
    expect(() => createTokenAccess({ token: 'x', cookieName: 'a b' })).toThrow(TypeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: 'a;b' })).toThrow(TypeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: '__Host-a' })).toThrow(TypeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: 'ok', maxAgeSeconds: 0 })).toThrow(RangeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: 'ok', throttle: { maxDelayMs: -1 } })).toThrow(RangeError);
  });
});
