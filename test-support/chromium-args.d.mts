/** Flags Debian's Chromium needs here (closed network, root, no GPU). */
export declare const CHROMIUM_ARGS: string[];
