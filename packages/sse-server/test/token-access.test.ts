import { afterEach, describe, expect, it } from 'vitest';
import { createTokenAccess, type TokenAccessOptions } from '../src/index.js';
import { listen, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A real server: `?token=` logins go to `login`; every other request answers
 * 200 `allowed` or 401 `refused` from `allows` on the real request's headers.
 */
async function serve(options: TokenAccessOptions) {
  const access = createTokenAccess(options);
  server = await listen((req, res) => {
    if (access.login(req, res)) return;
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const ok = access.allows({ header });
    res.writeHead(ok ? 200 : 401).end(ok ? 'allowed' : 'refused');
  });
  return { access, url: server.url };
}

const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(url, { method, headers, redirect: 'manual' });

describe('createTokenAccess', () => {
  it('without a token allows everyone and leaves ?token= alone', async () => {
    const { access, url } = await serve({ token: '', cookieName: 'app_session' });
    expect(access.required).toBe(false);
    expect(await (await get(url)).text()).toBe('allowed');
    expect(await (await get(`${url}/?token=x`)).text()).toBe('allowed');
  });

  it('with a token allows the Bearer holder only', async () => {
    const { access, url } = await serve({ token: 's3cret', cookieName: 'app_session' });
    expect(access.required).toBe(true);
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { Authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await get(url, { Authorization: 'bearer s3cret ' })).status).toBe(200);
    expect((await get(url, { Authorization: 'Bearer s3cre' })).status).toBe(401);
    expect((await get(url, { Authorization: 'Basic s3cret' })).status).toBe(401);
  });

  it('?token= login sets an HttpOnly SameSite=Strict cookie, drops the token from the address, and the cookie then counts', async () => {
    const { url } = await serve({ token: 's3cret', cookieName: 'app_session', maxAgeSeconds: 60 });
    const wrong = await get(`${url}/?token=nope`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const login = await get(`${url}/index.html?view=2&token=s3cret`);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/index.html?view=2');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^app_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=60$/);
    expect(setCookie).not.toContain('s3cret');
    const pair = setCookie.split(';')[0] ?? '';

    expect(await (await get(url, { Cookie: `other=1; ${pair}` })).text()).toBe('allowed');
    expect((await get(url, { Cookie: `${pair}x` })).status).toBe(401);
    expect((await get(url, { Cookie: `app_session=${'A'.repeat(43)}` })).status).toBe(401);
    // Only GET/HEAD log in: a cross-site form POST with ?token= gets no cookie.
    expect((await get(`${url}/?token=s3cret`, {}, 'POST')).status).toBe(401);
  });

  it('a cookie made for one token does not open a server with another', async () => {
    const first = await serve({ token: 'one', cookieName: 'app_session' });
    const pair = ((await get(`${first.url}/?token=one`)).headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    await server?.close();
    const second = await serve({ token: 'two', cookieName: 'app_session' });
    expect((await get(second.url, { Cookie: pair })).status).toBe(401);
    // The same token after a restart: the cookie still works.
    await server?.close();
    const again = await serve({ token: 'one', cookieName: 'app_session' });
    expect((await get(again.url, { Cookie: pair })).status).toBe(200);
  });

  it('refuses a bad cookie name or lifetime', () => {
    expect(() => createTokenAccess({ token: 'x', cookieName: 'a b' })).toThrow(TypeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: 'a;b' })).toThrow(TypeError);
    expect(() => createTokenAccess({ token: 'x', cookieName: 'ok', maxAgeSeconds: 0 })).toThrow(RangeError);
  });
});
