/**
 * How many wrong `/?token=` guesses one address gets compared per minute
 * (issue 27: before, 3,000 in 11.8 s). A node:http server with
 * createTokenAccess's login; one client tries a new token every 20 ms
 * (50 a second, far more than the throttle lets through) for `seconds` of
 * wall time and counts the guesses actually compared (401) against those
 * turned away unchecked (429). Runs against the built packages:
 *
 *   pnpm --filter @boardcast/core --filter @boardcast/sse-server build
 *   node packages/sse-server/scripts/login-guesses.mjs [seconds=60]
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createTokenAccess } from '@boardcast/sse-server';

const seconds = Number(process.argv[2] ?? 60);
const access = createTokenAccess({ token: 'a-long-random-token-nobody-guesses', cookieName: 'app_session' });
const server = createServer((req, res) => {
  if (!access.login(req, res)) res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const counts = { 401: 0, 429: 0, other: 0 };
const started = performance.now();
const compared = [];
for (let i = 0; performance.now() - started < seconds * 1000; i++) {
  const res = await fetch(`http://127.0.0.1:${port}/?token=guess-${i}`, { redirect: 'manual' });
  await res.arrayBuffer();
  if (res.status === 401) {
    counts[401]++;
    compared.push(((performance.now() - started) / 1000).toFixed(1));
  } else if (res.status === 429) counts[429]++;
  else counts.other++;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
server.close();
console.log(
  `${seconds} s, one address: ${counts[401]} guesses compared (at ${compared.join(', ')} s), ` +
    `${counts[429]} turned away with 429, ${counts.other} other`,
);
