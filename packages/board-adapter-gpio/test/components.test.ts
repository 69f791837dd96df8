import { BoardcastError, createHub } from '@boardcast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Button,
  type ButtonOptions,
  bindBoardStatus,
  bindInputs,
  bindLed,
  bindSensor,
  Led,
  type LedOptions,
  Sensor,
  SimulatedBoard,
} from '../src/index.js';
import { demoBoard, demoContract, demoState } from './demo-contract.js';

/** Let pending promise callbacks run without moving fake time. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function record<T extends string>(button: Button, names: readonly T[]): string[] {
  const log: string[] = [];
  for (const name of names) button.on(name as 'press', () => log.push(name));
  return log;
}

describe('components on SimulatedBoard (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('debounces a bouncing button: only a level held for debounceMs counts', async () => {
    const board = new SimulatedBoard();
    const button = new Button(board, 0, { debounceMs: 30 });
    await button.ready;
    const log = record(button, ['press', 'release']);
    // Contact bounce: 0/1/0/1 within 30 ms, then held low (pressed with pull-up).
    board.press(0);
    await vi.advanceTimersByTimeAsync(5);
    board.release(0);
    await vi.advanceTimersByTimeAsync(5);
    board.press(0);
    await vi.advanceTimersByTimeAsync(29);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['press']);
    expect(button.isPressed).toBe(true);
    // A glitch shorter than the debounce is ignored.
    board.release(0);
    await vi.advanceTimersByTimeAsync(10);
    board.press(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(['press']);
    board.release(0);
    await vi.advanceTimersByTimeAsync(30);
    expect(log).toEqual(['press', 'release']);
  });

  it('fires hold once after holdMs and not for a short press', async () => {
    const board = new SimulatedBoard();
    const button = new Button(board, 4, { debounceMs: 10, holdMs: 300 });
    await button.ready;
    const log = record(button, ['press', 'hold', 'release']);
    board.press(4);
    await vi.advanceTimersByTimeAsync(10 + 200);
    board.release(4);
    await vi.advanceTimersByTimeAsync(500);
    expect(log).toEqual(['press', 'release']);
    board.press(4);
    await vi.advanceTimersByTimeAsync(10 + 299);
    expect(log).toEqual(['press', 'release', 'press']);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(['press', 'release', 'press', 'hold']);
    await vi.advanceTimersByTimeAsync(2000);
    board.release(4);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(['press', 'release', 'press', 'hold', 'release']);
  });

  it('refuses a misspelt pull or a negative/NaN debounce or hold with invalid_payload', () => {
    const board = new SimulatedBoard();
    const bad = [{ pull: 'UP' }, { pull: 'pullup' }, { debounceMs: -1 }, { debounceMs: Number.NaN }, { holdMs: -5 }];
    for (const options of bad) {
      let code: string | undefined;
      try {
        new Button(board, 0, options as ButtonOptions);
      } catch (error) {
        code = error instanceof BoardcastError ? error.code : String(error);
      }
      expect(code, JSON.stringify(options)).toBe('invalid_payload');
    }
  });

  it('handles pull-down and inverted logic', async () => {
    const board = new SimulatedBoard();
    const down = new Button(board, 1, { pull: 'down', debounceMs: 0 });
    const inverted = new Button(board, 2, { pull: 'up', inverted: true, debounceMs: 0 });
    await Promise.all([down.ready, inverted.ready]);
    expect(board.peek(1)).toBe(0);
    expect(board.peek(2)).toBe(1);
    // Pull-up idles high; inverted means high is "pressed".
    expect(down.isPressed).toBe(false);
    expect(inverted.isPressed).toBe(true);
    board.press(1); // pull-down: press drives 1
    board.setInput(2, 0);
    await settle();
    expect(board.peek(1)).toBe(1);
    expect(down.isPressed).toBe(true);
    expect(inverted.isPressed).toBe(false);
  });

  it('debounces two buttons pressed together independently', async () => {
    const board = new SimulatedBoard();
    const fast = new Button(board, 12, { debounceMs: 10 });
    const slow = new Button(board, 13, { debounceMs: 50 });
    await Promise.all([fast.ready, slow.ready]);
    const log: string[] = [];
    fast.on('press', () => log.push('fast'));
    slow.on('press', () => log.push('slow'));
    board.press(12);
    board.press(13);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(['fast']);
    // Bouncing the slow button does not disturb the fast one, and vice versa.
    board.release(13);
    board.press(13);
    board.release(12);
    await vi.advanceTimersByTimeAsync(10);
    expect(fast.isPressed).toBe(false);
    await vi.advanceTimersByTimeAsync(40);
    expect(log).toEqual(['fast', 'slow']);
    expect(slow.isPressed).toBe(true);
  });

  it('two watches on one pin keep their own debounce', async () => {
    const board = new SimulatedBoard();
    await board.pinMode(7, 'input');
    const a: number[] = [];
    const b: number[] = [];
    board.watch(7, { debounceMs: 5 }, (e) => a.push(e.value));
    const stopB = board.watch(7, { debounceMs: 50, edge: 'rising' }, (e) => b.push(e.value));
    board.setInput(7, 1);
    await vi.advanceTimersByTimeAsync(20);
    board.setInput(7, 0);
    await vi.advanceTimersByTimeAsync(100);
    expect(a).toEqual([1, 0]);
    expect(b).toEqual([]); // the 20 ms pulse never held for 50 ms
    board.setInput(7, 1);
    await vi.advanceTimersByTimeAsync(60);
    expect(b).toEqual([1]);
    stopB();
    board.setInput(7, 0);
    board.setInput(7, 1);
    await vi.advanceTimersByTimeAsync(60);
    expect(b).toEqual([1]);
  });

  it('Led state is the value the board confirms; blink toggles until stopped', async () => {
    const board = new SimulatedBoard({ latencyMs: 5 });
    const led = new Led(board, 5);
    await vi.advanceTimersByTimeAsync(20);
    await led.ready;
    expect(led.isOn).toBe(false);
    const changes: boolean[] = [];
    led.on('change', (on) => changes.push(on));
    const pending = led.turnOn();
    expect(led.isOn).toBe(false); // not until the board answered
    await vi.advanceTimersByTimeAsync(5);
    expect(await pending).toBe(true);
    expect(board.peek(5)).toBe(1);
    board.failNextWrite(5);
    const failed = led.toggle();
    const assertion = expect(failed).rejects.toMatchObject({ code: 'handler_failed' });
    await vi.advanceTimersByTimeAsync(5);
    await assertion;
    expect(led.isOn).toBe(true); // the failed write did not change the confirmed state
    led.blink(100);
    await vi.advanceTimersByTimeAsync(100 + 5);
    expect(led.isOn).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(led.isOn).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(led.isOn).toBe(false);
    led.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(led.isOn).toBe(false);
    expect(changes).toEqual([true, false, true, false]);
    const activeLow = new Led(board, 6, { activeLow: true });
    await vi.advanceTimersByTimeAsync(20);
    const on = activeLow.turnOn();
    await vi.advanceTimersByTimeAsync(5);
    expect(await on).toBe(true);
    expect(board.peek(6)).toBe(0);
  });

  it('Sensor samples periodically, scales, and reports changes past the threshold', async () => {
    let raw = 100;
    const board = new SimulatedBoard({ sensors: { hall: () => raw } });
    const sensor = new Sensor(board, {
      source: { sensor: 'hall' },
      intervalMs: 1000,
      scale: { from: [0, 1000], to: [0, 10] },
      threshold: 0.5,
    });
    const readings: number[] = [];
    const changes: number[] = [];
    sensor.on('reading', (r) => readings.push(r.value));
    sensor.on('change', (r) => changes.push(r.value));
    await sensor.start();
    await vi.advanceTimersByTimeAsync(1000);
    raw = 130; // +0.3: below threshold
    await vi.advanceTimersByTimeAsync(1000);
    raw = 170; // +0.7 from the last reported
    await vi.advanceTimersByTimeAsync(1000);
    expect(readings).toEqual([1, 1.3, 1.7]);
    expect(changes).toEqual([1, 1.7]);
    board.goOffline();
    await vi.advanceTimersByTimeAsync(3000);
    expect(readings).toHaveLength(3); // no samples while offline
    sensor.stop();
  });

  it('analog sensors read a pin; waveforms are deterministic functions of time', async () => {
    const board = new SimulatedBoard({ sensors: { temp: { kind: 'square', min: 10, max: 20, periodMs: 1000 } } });
    const sensor = new Sensor(board, { source: { pin: 34 }, intervalMs: 100 });
    await sensor.start();
    board.setInput(34, 2048);
    expect(await sensor.sample()).toMatchObject({ sensor: 'pin34', value: 2048 });
    expect(await board.readSensor('temp')).toBe(20);
    await vi.advanceTimersByTimeAsync(600);
    expect(await board.readSensor('temp')).toBe(10);
    sensor.close();
  });
});

describe('SimulatedBoard errors and faults', () => {
  it('names board and pin in unsupported errors and fails at once when offline', async () => {
    const board = new SimulatedBoard({ id: 'bench', pins: [{ pin: 2, modes: ['input'] }] });
    await expect(board.pinMode(2, 'output')).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('board "bench" pin 2'),
    });
    await expect(board.digitalRead(9)).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('pin 9'),
    });
    await expect(board.readSensor('nope')).rejects.toBeInstanceOf(BoardcastError);
    await board.pinMode(2, 'input');
    expect(() => board.setInput(2, 7)).toThrow(/0 or 1/);
    const statuses: string[] = [];
    board.on('status', (s) => statuses.push(s));
    board.goOffline();
    await expect(board.digitalRead(2)).rejects.toMatchObject({ code: 'board_offline' });
    board.goOnline();
    expect(await board.digitalRead(2)).toBe(0);
    expect(statuses).toEqual(['offline', 'online']);
  });

  it('reports inputs that changed while offline when it comes back', async () => {
    const board = new SimulatedBoard();
    await board.pinMode(3, 'input');
    const seen: number[] = [];
    board.watch(3, {}, (e) => seen.push(e.value));
    board.goOffline();
    board.setInput(3, 1);
    expect(seen).toEqual([]);
    board.goOnline();
    expect(seen).toEqual([1]);
  });
});

describe('binding helpers', () => {
  it('binds a Led to the led command, event and state, a Button to pin_change, a Sensor to reading', async () => {
    const hub = createHub(demoContract, { state: demoState() });
    const { board, led, button, sensor } = await demoBoard(21.5);
    const events: string[] = [];
    hub.subscribe((e) => events.push(`${e.event}:${e.json}`));
    bindLed(hub, led);
    bindInputs(hub, [button]);
    bindSensor(hub, sensor);
    bindBoardStatus(hub, board);
    await settle();
    expect(hub.state.inputs).toEqual({ 0: { level: 1 } });
    expect(hub.state.board).toEqual({ status: 'online' });

    expect(await hub.call('led', { state: 'toggle' })).toEqual({ on: true });
    expect(board.peek(5)).toBe(1);
    expect(hub.state.led).toEqual({ on: true });
    const bad = await hub.dispatch('led', { state: 'sideways' });
    expect(bad.ok ? 'ok' : bad.error.code).toBe('invalid_payload');
    board.failNextWrite(5);
    const failed = await hub.dispatch('led', { state: 'off' });
    expect(failed.ok ? 'ok' : failed.error.code).toBe('handler_failed');
    expect(hub.state.led).toEqual({ on: true });

    board.press(0);
    await settle();
    expect(hub.state.inputs).toEqual({ 0: { level: 0 } });
    await sensor.sample();
    expect(hub.state.temp).toBe(21.5);
    board.goOffline();
    await settle();
    expect(hub.state.board).toEqual({ status: 'offline' });
    // Each binding publishes the current value once at bind time, so the
    // state is right before the first change.
    expect(events).toEqual([
      'led:{"on":false}',
      'board:{"id":"sim","status":"online"}',
      'pin_change:{"pin":0,"value":1}',
      'led:{"on":true}',
      'pin_change:{"pin":0,"value":0}',
      expect.stringMatching(/^reading:\{"sensor":"temp","value":21.5,"at":\d+\}$/),
      'board:{"id":"sim","status":"offline"}',
    ]);
    await hub.close();
  });
});

describe('Led operation queue (signal, deadline, bound)', () => {
  /** A ready Led on pin 5 of a simulated board whose every operation takes `latencyMs`. */
  async function readyLed(latencyMs: number, options?: LedOptions): Promise<{ board: SimulatedBoard; led: Led }> {
    const board = new SimulatedBoard({ latencyMs });
    const led = new Led(board, 5, options);
    await led.ready;
    return { board, led };
  }

  it('a closed Led never drives its pin again: queued and later operations reject closed, blink throws', async () => {
    const { board, led } = await readyLed(5);
    const running = led.turnOn();
    const queued = Promise.allSettled([led.turnOff(), led.toggle()]);
    led.close();
    led.close(); // twice is harmless
    expect(await running).toBe(true);
    for (const r of await queued) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'closed' } });
    await expect(led.turnOff()).rejects.toMatchObject({ code: 'closed' });
    expect(() => led.blink(10)).toThrow(expect.objectContaining({ code: 'closed' }));
    expect(led.isBlinking).toBe(false);
    expect(board.peek(5)).toBe(1);
    expect(board.writes).toBe(1);
  });

  it('beyond maxQueue an operation is refused with too_many_requests, and the queued ones still run', async () => {
    const { board, led } = await readyLed(5, { maxQueue: 3 });
    const results = await Promise.allSettled([led.turnOn(), led.turnOff(), led.turnOn(), led.turnOff(), led.toggle()]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as BoardcastError).code))).toEqual([
      true,
      false,
      true,
      'too_many_requests',
      'too_many_requests',
    ]);
    expect(board.writes).toBe(3);
    expect(board.peek(5)).toBe(1);
    expect(led.queued).toBe(0);
  });

  it('a queued operation whose signal aborts (a command that timed out) rejects at once and is never executed', async () => {
    const { board, led } = await readyLed(20);
    const first = led.turnOn();
    const controller = new AbortController();
    const second = led.turnOff({ signal: controller.signal });
    const third = led.turnOn();
    const reason = new BoardcastError('timeout', 'command timed out');
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    expect(led.queued).toBe(2);
    expect(await first).toBe(true);
    expect(await third).toBe(true);
    // Two writes reached the board; the aborted "off" never did.
    expect(board.writes).toBe(2);
    // Already aborted: refused before queueing.
    await expect(led.turnOff({ signal: controller.signal })).rejects.toBe(reason);
    expect(board.writes).toBe(2);
  });

  it('a queued operation whose deadline passed while it waited is dropped at its turn', async () => {
    const { board, led } = await readyLed(30);
    const first = led.turnOn();
    const late = led.turnOff({ deadline: performance.now() + 5 });
    // Dropped by the Led itself, before the board is asked at all.
    await expect(late).rejects.toMatchObject({ code: 'timeout', message: expect.stringContaining('while queued') });
    expect(await first).toBe(true);
    expect(board.writes).toBe(1);
    expect(board.peek(5)).toBe(1);
  });

  /**
   * 500 `led` commands at once through the hub (timeout 300 ms) to a Led
   * (queue 64) on a board that takes `latencyMs` per write, with the pattern
   * bindLed follows: the handler passes its signal and deadline. Returns each
   * answer's code and what reached the board.
   */
  async function flood(latencyMs: number, settleMs: number) {
    const fake = vi.isFakeTimers();
    const elapse = (ms: number) =>
      fake ? vi.advanceTimersByTimeAsync(ms) : new Promise<void>((resolve) => setTimeout(resolve, ms));
    const hub = createHub(demoContract, { state: demoState(), commandTimeoutMs: 300 });
    const board = new SimulatedBoard({ latencyMs });
    const led = new Led(board, 5, { maxQueue: 64 });
    let ready = false;
    void led.ready.then(() => {
      ready = true;
    });
    while (fake && !ready) await elapse(latencyMs); // the pinMode and read behind led.ready
    await led.ready;
    hub.handle('led', ({ state }, context) => {
      const options = { signal: context.signal, deadline: context.deadline };
      const op = state === 'on' ? led.turnOn(options) : state === 'off' ? led.turnOff(options) : led.toggle(options);
      return op.then((on) => ({ on }));
    });
    // Command i asks for 'on' when i is odd: the pin's level names the last one executed.
    let answers = 0;
    const answered = Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        hub.dispatch('led', { state: i % 2 ? 'on' : 'off' }).then((a) => {
          answers++;
          return a.ok ? 'ok' : a.error.code;
        }),
      ),
    );
    if (fake) await elapse(300); // the commands' timeout
    const codes = await answered;
    expect(answers).toBe(500); // each command answered once
    const ok = codes.indexOf('timeout') < 0 ? codes.indexOf('too_many_requests') : codes.indexOf('timeout');
    // The Led runs its queue in order: the first `ok` of the 64 it took
    // finished in time, the rest timed out; the 436 beyond its bound were
    // refused at once.
    expect(codes).toEqual([
      ...Array(ok).fill('ok'),
      ...Array(64 - ok).fill('timeout'),
      ...Array(500 - 64).fill('too_many_requests'),
    ]);
    const writesAtAnswer = board.writes;
    // Longer than one write: the write in flight when its command timed out
    // ends (refused by the board: its signal aborted) before this timer fires.
    await elapse(settleMs);
    expect(led.queued).toBe(0);
    // Only the commands answered ok reached the board, and none after the answers.
    expect(board.writes).toBe(writesAtAnswer);
    expect(board.writes).toBe(ok);
    // The last one executed: command ok - 1, 'on' when odd (the pin starts at 0).
    expect(board.peek(5)).toBe(ok > 0 && (ok - 1) % 2 === 1 ? 1 : 0);
    await hub.close();
    return { ok, timeout: 64 - ok };
  }

  it('500 concurrent hub commands with a 300 ms timeout: every one that timed out never reaches the board', async () => {
    // Time is the test's (the hub's timer and deadline, the board's latency):
    // at 35 ms a write, 8 finish by 280 ms, the 9th would end at 315 ms, so
    // the other 56 time out at 300 ms — on any machine at any load.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      expect(await flood(35, 1000)).toEqual({ ok: 8, timeout: 56 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('the same on real timers: whatever the split the load allows, only the commands answered ok reached the board', async () => {
    // flood() asserts the invariant; how many finished in time is the machine's business.
    await flood(20, 200);
  });
});
