import { createServer } from 'node:http';
import { createHub, defineContract, typed } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { boardcastHttp, createTokenAccess } from '../src/index.js';
import { listen, openStream, type StreamReader, type TestServer, waitFor } from './helpers.js';

const contract = defineContract({ events: {}, commands: {}, state: typed<{ n: number }>() });

let server: TestServer | undefined;
const readers: StreamReader[] = [];
afterEach(async () => {
  for (const reader of readers.splice(0)) reader.close();
  await server?.close();
  server = undefined;
});

describe('createTokenAccess expiresAt', () => {
  it('a stream opened with a session cookie ends when the cookie expires; a Bearer token has no expiry', async () => {
    // The real clock, except while `frozen` is set: the cookie's issue time is whole seconds, so
    // it may expire a few ms after the login, and a loaded machine may take longer than that to
    // reach the check of its expiresAt.
    let frozen: number | undefined;
    const access = createTokenAccess({
      token: 's3cret',
      cookieName: 'app_session',
      maxAgeSeconds: 1,
      now: () => frozen ?? Date.now(),
    });
    const hub = createHub(contract, { state: { n: 0 } });
    const api = boardcastHttp(hub, {
      base: '/api',
      authorize: (request) => (access.allows(request) ? { id: 'holder', expiresAt: access.expiresAt(request) } : false),
    });
    const reasons: string[] = [];
    api.sse.on('disconnect', (_client, reason) => reasons.push(reason));
    server = await listen(
      createServer((req, res) => {
        if (access.login(req, res)) return;
        api.node(req, res);
      }),
    );
    const login = await fetch(`${server.url}/?token=s3cret`, { redirect: 'manual' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^app_session=/);
    const issuedMs = Number(cookie.split('=')[1]?.split('.')[0]) * 1000;
    const header = (name: string) => (name === 'cookie' ? cookie : undefined);
    frozen = issuedMs;
    expect(access.expiresAt({ header })).toBe(issuedMs + 1000);
    frozen = issuedMs + 999;
    expect(access.expiresAt({ header })).toBe(issuedMs + 1000); // its last valid millisecond
    frozen = issuedMs + 1000;
    expect(access.expiresAt({ header })).toBe(undefined);
    frozen = undefined;
    expect(access.expiresAt({ header: (name) => (name === 'authorization' ? 'Bearer s3cret' : undefined) })).toBe(
      undefined,
    );

    const bearer = await openStream(`${server.url}/api/events`, { Authorization: 'Bearer s3cret' });
    readers.push(bearer);
    const session = await openStream(`${server.url}/api/events`, { Cookie: cookie });
    readers.push(session);
    if (session.response.status === 200) {
      await waitFor(() => session.ended, 'the session stream ended at the cookie expiry');
      expect(reasons).toEqual(['expired']);
      expect(Date.now()).toBeGreaterThanOrEqual(issuedMs + 1000);
    } else {
      // The second turned over between login and request: the cookie had already expired.
      expect(session.response.status).toBe(401);
    }
    // The stream opened with the cookie is refused now, the Bearer one is still live.
    expect((await fetch(`${server.url}/api/events`, { headers: { Cookie: cookie } })).status).toBe(401);
    expect(bearer.ended).toBe(false);
    await api.close();
    await hub.close();
  });
});
