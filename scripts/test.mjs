#!/usr/bin/env node
// The README's test command. Runs every suite whose system parts are present
// and names the install command for any that are not. `.ci/run` sets
// BOARDCAST_REQUIRE_ALL=1 so that, there, nothing is skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const parts = [
  {
    name: 'Chromium (browser end-to-end tests)',
    bins: ['/usr/bin/chromium', 'chromium'],
    install: 'sudo apt-get install chromium',
  },
  {
    name: 'Firefox ESR (browser tests in Firefox, over WebDriver BiDi)',
    bins: ['/usr/bin/firefox-esr'],
    install: 'sudo apt-get install firefox-esr',
  },
  {
    name: "WebKitGTK's MiniBrowser, WebKitWebDriver and Xvfb (browser tests in WebKit)",
    check: () =>
      present(['/usr/bin/WebKitWebDriver']) &&
      present(['/usr/bin/Xvfb']) &&
      present([
        '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
        '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
      ]),
    install: 'sudo apt-get install webkit2gtk-driver xvfb',
  },
  {
    name: 'redis-server (@boardcast/bus-redis tests)',
    bins: ['/usr/bin/redis-server', 'redis-server'],
    install: 'sudo apt-get install redis-server',
  },
  { name: 'python3 (board agent tests)', bins: ['python3'], install: 'sudo apt-get install python3' },
  {
    name: 'python3-libgpiod + gcc (LinuxGpioBoard on the real libgpiod 1.6 binding over the emulated GPIO chip)',
    // Debian's own interpreter: a python3 first on PATH may be another one without the binding.
    check: () =>
      spawnSync('/usr/bin/python3', ['-c', 'import gpiod'], { stdio: 'ignore' }).status === 0 && present(['gcc']),
    install: 'sudo apt-get install python3-libgpiod gcc',
  },
  {
    name: 'nginx (reverse-proxy tests: the LED demo behind the README recipe)',
    bins: ['/usr/sbin/nginx', 'nginx'],
    install: 'sudo apt-get install nginx',
  },
  {
    name: 'mosquitto (@boardcast/mqtt tests)',
    bins: ['/usr/sbin/mosquitto', 'mosquitto'],
    install: 'sudo apt-get install mosquitto',
  },
  {
    name: 'PostgreSQL server (@boardcast/telemetry PostgreSQL tests)',
    bins: ['/usr/lib/postgresql'],
    install: 'sudo apt-get install postgresql',
  },
];

function present(bins) {
  return bins.some((bin) => {
    if (bin.startsWith('/')) return existsSync(bin);
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

const missing = parts.filter((part) => !(part.check ? part.check() : present(part.bins)));
for (const part of missing) {
  console.warn(`\n[boardcast] NOTICE: ${part.name} will be SKIPPED — not installed. Install with: ${part.install}`);
}
if (missing.length > 0 && process.env.BOARDCAST_REQUIRE_ALL === '1') {
  console.error('[boardcast] BOARDCAST_REQUIRE_ALL=1: refusing to skip suites.');
  process.exit(1);
}

const result = spawnSync('pnpm', ['exec', 'vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
