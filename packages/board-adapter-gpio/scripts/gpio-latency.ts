/**
 * Write → confirmed level and edge → hub event through the real GPIO helper
 * on the emulated chip, n operations each (default 1000), p50/p99/max in ms.
 *
 * - write: `board.digitalWrite` until it resolves, i.e. the helper has set the
 *   line, read it back from the kernel and answered over the pipe.
 * - edge: the kernel's CLOCK_MONOTONIC stamp of an edge on the emulated line
 *   until the hub's subscriber sees the `pin_change` event (Button with no
 *   debounce, bound with bindInputs), on the same clock.
 */
import { join } from 'node:path';
import { createHub, defineContract, typed } from '@boardcast/core';
import { EmulatedGpio } from '../../../test-support/emulated-gpio/index.js';
import { Button, bindInputs, boardEvents, LinuxGpioBoard } from '../src/index.js';

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
  const api = arg('api', 2) === 1 ? 1 : 2;
  const gpio = await EmulatedGpio.start('pi5', api);
  const board = await LinuxGpioBoard.open({
    pins: [5, 17],
    env: gpio.env,
    helperPath: join(scriptsDir, '../gpio-helper/boardcast_gpio_helper.py'),
  });
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
    console.log(`GPIO helper on the emulated Pi 5 chip, gpiod v${api} API, python3-libgpiod stand-in`);
    console.log(`write → confirmed level: ${fmt(stats(writes))}`);
    console.log(`edge → hub event:        ${fmt(stats(edges))}`);
  } finally {
    await board.close();
    await gpio.close();
  }
}
