/**
 * `@boardcast/core/server`: what a server endpoint needs besides the hub —
 * a Node or Fetch request in core's shape (`fromNodeRequest`,
 * `fromFetchRequest`), the Host/Origin/limit policy every boardcast
 * endpoint applies, the `authorize` rule (`authorizeRequest`), JSON and
 * error answers (`jsonReply`, `errorReply`), the upgrade registry, the
 * token bucket behind every rate limit (`RateLimiter`), the `Retry-After`
 * rule of error answers, and `logSafe` for log lines built from network
 * input. Public and documented
 * (core README), so an application can give its own endpoints the same
 * checks; it follows semver like the root entry. Node APIs stay out of it
 * too: callers pass the machine's names in (and Node requests are read by
 * their shape).
 */
export { type AuthorizeOutcome, authorizeRequest } from './authorize.js';
export { LOG_SAFE_MAX_LENGTH, logSafe } from './log-safe.js';
export { fromFetchRequest, fromNodeRequest, type NodeRequestLike, nodeRequestUrl } from './node-request.js';
export {
  AddressCounter,
  type AllowedHosts,
  type AllowedOrigins,
  type ClientInfo,
  checkHost,
  checkRequest,
  createHostCheck,
  createProxyTrust,
  type EndpointPolicy,
  type EndpointPolicyOptions,
  type HostCheck,
  type HostEnvironment,
  type InterfaceAddress,
  isIpLiteral,
  isOriginAllowed,
  normalizeHost,
  normalizeOrigin,
  type PeerInfo,
  POLICY_DEFAULTS,
  type ProxyTrust,
  resolvePolicy,
  type SlowClientPolicy,
  type TrustProxy,
  withClient,
} from './policy.js';
export { RateLimiter } from './rate-limit.js';
export { errorReply, type HttpReply, jsonReply } from './reply.js';
export { retryAfterHeader } from './retry-after.js';
export {
  refuseUpgrade,
  registerUpgrade,
  UNHANDLED_UPGRADE_TIMEOUT_MS,
  UpgradeRegistry,
  type UpgradeRequestLike,
  type UpgradeRoute,
  type UpgradeServer,
  type UpgradeSocketLike,
  upgradeRegistry,
} from './upgrade.js';
