/**
 * One board protocol: the shared examples in protocol/board-frames.json are
 * what the server's decoder accepts and refuses, and what both Python boards
 * answer — the agent (its AgentCore, frame by frame) and the GPIO helper (a
 * process on Debian's real python3-libgpiod over the emulated chip, and on
 * the v2 double). test/board_protocol.py runs the Python side.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EmulatedGpio, realBindingAvailable, systemPython } from '../../../test-support/emulated-gpio/index.js';
import { pythonPath } from '../../../test-support/system.js';
import { decodeBoardFrame } from '../src/index.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./board_protocol.py', import.meta.url));
const spec = JSON.parse(readFileSync(new URL('../protocol/board-frames.json', import.meta.url), 'utf8')) as {
  exchanges: Array<{ name: string; request: Record<string, unknown>; answer: Record<string, unknown> }>;
  boardFrames: Array<{ name: string; valid: boolean; frame: Record<string, unknown> }>;
};

describe('the board protocol, by its shared examples', () => {
  it.each(spec.boardFrames)('the server decodes a board frame: $name', ({ valid, frame }) => {
    const decoded = decodeBoardFrame(JSON.stringify(frame));
    expect(decoded.ok).toBe(valid);
    if (!decoded.ok) expect(decoded.error.code).toBe('invalid_payload');
  });

  it('every expected result in the exchanges is a frame the server accepts', () => {
    const results = spec.exchanges.filter((e) => e.answer.type === 'result');
    expect(results.length).toBeGreaterThan(5);
    for (const { name, answer } of results) {
      const full = answer.ok === false ? { ...answer, error: { message: 'm', ...(answer.error as object) } } : answer;
      expect(decodeBoardFrame(JSON.stringify(full)).ok, name).toBe(true);
    }
  });

  it.skipIf(!pythonPath)('the agent answers every exchange as the examples say', async () => {
    const { stdout } = await run(pythonPath!, [SCRIPT, 'agent']);
    expect(stdout).toContain(`board-protocol ok ${spec.exchanges.length}`);
  });

  it.skipIf(!realBindingAvailable())(
    'the GPIO helper (python3-libgpiod 1.6 over the emulated chip) answers every exchange the same way',
    async () => {
      const gpio = await EmulatedGpio.start('pi5', 1, pythonPath);
      try {
        const { stdout } = await run(systemPython, [SCRIPT, 'helper'], { env: { ...process.env, ...gpio.env } });
        expect(stdout).toContain(`board-protocol ok ${spec.exchanges.length}`);
      } finally {
        await gpio.close();
      }
    },
  );

  it.skipIf(!pythonPath)('the GPIO helper on the v2 double answers the same way', async () => {
    const gpio = await EmulatedGpio.start('pi5', 2, pythonPath);
    try {
      const { stdout } = await run(pythonPath!, [SCRIPT, 'helper'], { env: { ...process.env, ...gpio.env } });
      expect(stdout).toContain(`board-protocol ok ${spec.exchanges.length}`);
    } finally {
      await gpio.close();
    }
  });
});
