export type { CommandRouter, CommandRouterOptions } from './command-router.js';
export { RedisBus, type RedisBusEvents, type RedisBusOptions } from './redis-bus.js';
