/**
 * Write → confirmed level and edge → hub event through the real GPIO helper
 * on the emulated chip, n operations each (default 1000), p50/p99/max in ms.
 *
 * - write: `board.digitalWrite` until it resolves, i.e. the helper has set the
 *   line, read it back from the kernel and answered over the pipe.
 * - edge: the kernel's CLOCK_MONOTONIC stamp of an edge on the emulated line
 *   until the hub's subscriber sees the `pin_change` event (Button with no
 *   debounce, bound with bindInputs), on the same clock.
 * - restart: SIGKILL of the helper until the board is `online` again (new
 *   helper, lines requested, LED restored), `--kills` times (default 20).
 * - overflow: 41 edges while the helper is stopped (SIGSTOP), ending pressed;
 *   a run is correct when the Button (20 ms debounce) shows pressed,
 *   `--runs` times (default 20).
 *
 * `--api 1` (default): Debian's real python3-libgpiod 1.6.3 over the uAPI v1
 * emulation (LD_PRELOAD); `--api 2`: the Python double of the 2.x binding.
 */

import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createHub, defineContract, typed } from '@boardcast/core';
import { EmulatedGpio, systemPython } from '../../../test-support/emulated-gpio/index.js';
import { Button, bindInputs, boardEvents, Led, LinuxGpioBoard } from '../src/index.js';

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

const fmt = (s: ReturnType<typeof stats>) =>
  `n=${s.n} p50=${s.p50.toFixed(3)} ms p99=${s.p99.toFixed(3)} ms max=${s.max.toFixed(3)} ms`;

export async function run(argv: string[], scriptsDir: string): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const n = arg('n', 1000);
  const api = arg('api', 1) === 2 ? 2 : 1;
  const kills = arg('kills', 20);
  const runs = arg('runs', 20);
  const gpio = await EmulatedGpio.start('pi5', api);
  const board = await LinuxGpioBoard.open({
    pins: [5, 17],
    env: gpio.env,
    python: api === 1 ? systemPython : 'python3',
    helperPath: join(scriptsDir, '../gpio-helper/boardcast_gpio_helper.py'),
    // windowMs 1: each kill is measured as the first restart in its window (100 ms backoff), not the 20th.
    restart: { windowMs: 1, initialDelayMs: 100 },
  });
  const load = loadavg()[0]!.toFixed(2);
  try {
    await board.pinMode(5, 'output');
    for (let i = 0; i < 50; i++) await board.digitalWrite(5, (i % 2) as 0 | 1); // warm-up
    const writes: number[] = [];
    for (let i = 0; i < n; i++) {
      const value = (i % 2 === 0 ? 1 : 0) as 0 | 1;
      const t0 = process.hrtime.bigint();
      await board.digitalWrite(5, value);
      writes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const level = await gpio.level('pinctrl-rp1', 5);
    if (level.level !== (n % 2 === 0 ? 0 : 1)) throw new Error('the line does not hold the last written level');

    const contract = defineContract({
      events: { pin_change: boardEvents.pin_change },
      commands: {},
      state: typed<Record<string, never>>(),
    });
    const hub = createHub(contract, { state: {} });
    const button = new Button(board, 17, { debounceMs: 0 });
    await button.ready;
    bindInputs(hub, [button]);
    let waiting: ((at: bigint) => void) | undefined;
    hub.subscribe(() => waiting?.(process.hrtime.bigint()));
    const edges: number[] = [];
    for (let i = 0; i < n; i++) {
      const seen = new Promise<bigint>((resolve) => {
        waiting = resolve;
      });
      const stamp = await gpio.drive('pinctrl-rp1', 17, i % 2 === 0 ? 0 : null);
      const at = await seen;
      if (stamp === undefined) throw new Error('no edge was sent');
      edges.push(Number(at - stamp) / 1e6);
    }
    button.close();
    await hub.close();

    const led = new Led(board, 5);
    await led.ready;
    await led.turnOn();
    const restarts: number[] = [];
    for (let i = 0; i < kills; i++) {
      const online = new Promise<bigint>((resolve) => {
        const off = board.on('status', (status) => {
          if (status === 'online') {
            off();
            resolve(process.hrtime.bigint());
          }
        });
      });
      board.on('error', () => undefined);
      const t0 = process.hrtime.bigint();
      process.kill(board.helperPid!, 'SIGKILL');
      restarts.push(Number((await online) - t0) / 1e6);
      if (!(await gpio.level('pinctrl-rp1', 5)).held || (await gpio.level('pinctrl-rp1', 5)).level !== 1) {
        throw new Error('the LED was not restored');
      }
    }

    let correct = 0;
    for (let i = 0; i < runs; i++) {
      const pressButton = new Button(board, 17, { debounceMs: 20 });
      await pressButton.ready;
      const pid = board.helperPid!;
      process.kill(pid, 'SIGSTOP');
      await gpio.burst(
        'pinctrl-rp1',
        17,
        Array.from({ length: 41 }, (_, k) => (k % 2 === 0 ? 0 : 1)),
      );
      process.kill(pid, 'SIGCONT');
      const deadline = Date.now() + 10_000;
      while (!pressButton.isPressed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (pressButton.isPressed) correct++;
      await gpio.drive('pinctrl-rp1', 17, null);
      while (pressButton.isPressed && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 10));
      pressButton.close();
    }

    console.log(
      `GPIO helper on the emulated Pi 5 chip, gpiod v${api} API (${api === 1 ? "Debian's python3-libgpiod 1.6.3 over the uAPI v1 emulation" : 'Python double of the 2.x binding'}), load average ${load}`,
    );
    console.log(`write → confirmed level: ${fmt(stats(writes))}`);
    console.log(`edge → hub event:        ${fmt(stats(edges))}`);
    console.log(`helper kill → online:    ${fmt(stats(restarts))}`);
    console.log(`41-edge overflow, final level correct: ${correct}/${runs}`);
  } finally {
    await board.close();
    await gpio.close();
  }
}
