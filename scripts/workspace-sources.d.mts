/** `@boardcast/<name>[/<entry>]` → absolute path of its source; `dirOf` says where a package's folder is. */
export declare function workspaceSources(dirOf?: (name: string) => string): Record<string, string>;
/** Every public entry of every workspace package → its source (esbuild `alias`). */
export declare const sourceAliases: Record<string, string>;
/** The map as vite/vitest aliases, each matching the whole specifier. */
export declare function viteAliases(sources?: Record<string, string>): { find: RegExp; replacement: string }[];
