// The workspace's public entries → their sources (one rule for the repo:
// scripts/workspace-sources.mjs), for the demo run from source.
export { sourceAliases } from '../../../scripts/workspace-sources.mjs';
