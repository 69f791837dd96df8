export { CommandRouter, type CommandRouterOptions } from './command-router.js';
export { RedisBus, type RedisBusEvents, type RedisBusOptions } from './redis-bus.js';
export { compareStreamIds, isStreamId } from './stream-id.js';
