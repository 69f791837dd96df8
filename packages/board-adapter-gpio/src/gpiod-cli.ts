import { spawn as spawnChild } from 'node:child_process';

export interface CommandOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A long-running tool (gpioset holding a line, gpiomon watching one). */
export interface RunningCommand {
  onLine(listener: (line: string) => void): void;
  onExit(listener: (code: number | null, stderr: string) => void): void;
  kill(): void;
}

/** The OS boundary: everything LinuxGpioBoard does goes through these two calls. */
export interface CommandRunner {
  run(command: string, args: readonly string[]): Promise<CommandOutput>;
  spawn(command: string, args: readonly string[]): RunningCommand;
}

/** Runs libgpiod's tools with child_process (no shell, arguments passed as-is). */
export const nodeCommandRunner: CommandRunner = {
  run(command, args) {
    return new Promise((resolve) => {
      const child = spawnChild(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
      });
      child.on('error', (error) => resolve({ code: null, stdout, stderr: stderr + String(error.message) }));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  },
  spawn(command, args) {
    const child = spawnChild(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lineListeners: Array<(line: string) => void> = [];
    const exitListeners: Array<(code: number | null, stderr: string) => void> = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) for (const l of lineListeners) l(line);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('error', (error) => {
      stderr += error.message;
    });
    child.on('close', (code) => {
      for (const l of exitListeners) l(code, stderr);
    });
    return {
      onLine: (l) => lineListeners.push(l),
      onExit: (l) => exitListeners.push(l),
      kill: () => {
        child.kill('SIGTERM');
      },
    };
  },
};

export type Bias = 'pull-up' | 'pull-down' | 'disabled' | undefined;
export interface Line {
  readonly chip: string;
  readonly offset: number;
}

/**
 * Argument builders and parsers for libgpiod's tools. v1 (Raspberry Pi OS
 * bookworm, Debian 12: 1.6.x) and v2 (Debian 13, Fedora: 2.x) take different
 * arguments; both are spoken.
 */
export const gpiod = {
  parseVersion(output: string): 1 | 2 | undefined {
    const match = /v(\d+)\.\d+/.exec(output);
    if (!match) return undefined;
    return match[1] === '1' ? 1 : Number(match[1]) >= 2 ? 2 : undefined;
  },
  /** v1: `gpiofind NAME`; v2: `gpioinfo NAME` (gpiofind is gone in v2). */
  findArgs(version: 1 | 2, name: string): [string, string[]] {
    return version === 1 ? ['gpiofind', [name]] : ['gpioinfo', ['--strict', name]];
  },
  parseFind(output: string): Line | undefined {
    const match = /^\s*(gpiochip\d+)\s+(\d+)/m.exec(output);
    return match ? { chip: match[1]!, offset: Number(match[2]) } : undefined;
  },
  getArgs(version: 1 | 2, line: Line, bias: Bias, consumer: string): string[] {
    if (version === 1) return [...(bias ? ['-B', bias] : []), line.chip, String(line.offset)];
    return ['-c', line.chip, '-C', consumer, ...(bias ? ['-b', bias] : []), String(line.offset)];
  },
  /** v1 prints `1`; v2.0 `"17"=active`; v2.1 with --numeric `1`. */
  parseGet(output: string): 0 | 1 | undefined {
    const text = output.trim();
    const named = /=(active|inactive)\s*$/.exec(text);
    if (named) return named[1] === 'active' ? 1 : 0;
    if (/(^|\s)1$/.test(text)) return 1;
    if (/(^|\s)0$/.test(text)) return 0;
    return undefined;
  },
  /** Holds the line until killed: v1 needs `-m signal`, v2 does so by default. */
  setArgs(version: 1 | 2, line: Line, value: 0 | 1, consumer: string): string[] {
    if (version === 1) return ['-m', 'signal', line.chip, `${line.offset}=${value}`];
    return ['-c', line.chip, '-C', consumer, `${line.offset}=${value}`];
  },
  monArgs(version: 1 | 2, line: Line, bias: Bias, consumer: string): string[] {
    if (version === 1) return [...(bias ? ['-B', bias] : []), '-F', '%e %o', line.chip, String(line.offset)];
    return [
      '-c',
      line.chip,
      '-C',
      consumer,
      ...(bias ? ['-b', bias] : []),
      '-e',
      'both',
      '--format',
      '%e %o',
      String(line.offset),
    ];
  },
  /** `%e %o`: v1 `1` rising / `0` falling; v2 `1` rising / `2` falling. Returns the new level. */
  parseMon(line: string): { offset: number; value: 0 | 1 } | undefined {
    const match = /^\s*([012])\s+(\d+)\s*$/.exec(line);
    if (!match) return undefined;
    return { offset: Number(match[2]), value: match[1] === '1' ? 1 : 0 };
  },
};
