// Request/response over the Node IPC channel between the orchestrator and
// its server / load-generator children. Kept tiny on purpose: the children
// must spend their time on sockets, not on plumbing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Child side: answer `{id, cmd, args}` requests with the handler's result. */
export function serve(handlers) {
  process.on('message', async (msg) => {
    if (!msg || typeof msg !== 'object') return;
    const handler = handlers[msg.cmd];
    if (msg.id === undefined) return;
    try {
      if (!handler) throw new Error(`unknown command ${msg.cmd}`);
      const result = await handler(msg.args ?? {});
      process.send({ id: msg.id, ok: true, result });
    } catch (error) {
      process.send({ id: msg.id, ok: false, error: String(error?.stack ?? error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
const NICE = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));

/**
 * Start a child Node process with an IPC channel, optionally pinned to a set
 * of CPUs with taskset and given a scheduling priority with nice (both exec
 * node in the end, so the IPC fd is inherited and the pid is node's).
 */
export function startChild(script, { args = [], nodeArgs = [], cpus, nice, name } = {}) {
  const argv = [process.execPath, ...nodeArgs, script, ...args];
  const useTaskset = cpus !== undefined && TASKSET;
  if (useTaskset) argv.unshift(TASKSET, '-c', String(cpus));
  if (nice !== undefined && NICE) argv.unshift(NICE, '-n', String(nice));
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const pending = new Map();
  let exited = false;
  child.on('message', (msg) => {
    if (msg && msg.id !== undefined) {
      const entry = pending.get(msg.id);
      if (!entry) return;
      pending.delete(msg.id);
      clearTimeout(entry.timer);
      if (msg.ok) entry.resolve(msg.result);
      else entry.reject(new Error(`${name}: ${msg.error}`));
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    for (const entry of pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new Error(`${name} exited (${code ?? signal}) during ${entry.cmd}`));
    }
    pending.clear();
  });
  return {
    name,
    pid: child.pid,
    pinned: Boolean(useTaskset),
    call(cmd, callArgs = {}, timeoutMs = 120_000) {
      if (exited) return Promise.reject(new Error(`${name} has exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer, cmd });
        child.send({ id, cmd, args: callArgs });
      });
    },
    async stop(graceMs = 3000) {
      if (exited) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      try {
        child.disconnect();
      } catch {}
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}
