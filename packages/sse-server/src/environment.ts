import { hostname, networkInterfaces } from 'node:os';
import type { HostEnvironment } from '@boardcast/core/server';

/**
 * The machine's names for core's `Host` check. Read at endpoint construction;
 * core stays free of Node APIs, so the server packages pass these in.
 */
export function hostEnvironment(): HostEnvironment {
  try {
    return { hostname: hostname(), interfaces: networkInterfaces() };
  } catch {
    // Some sandboxes refuse os queries; IP literals and localhost still pass.
    return {};
  }
}
