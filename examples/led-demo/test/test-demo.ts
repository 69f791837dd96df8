import { type Demo, type DemoOptions, startDemo } from '../src/server.js';

/** `startDemo` on a free port of 127.0.0.1 with no log; `options` override any of these. */
export function startTestDemo(options: DemoOptions = {}): Promise<Demo> {
  return startDemo({ port: 0, host: '127.0.0.1', log: false, ...options });
}
