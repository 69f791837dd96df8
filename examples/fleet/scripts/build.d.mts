/** Bundle the page; `alias` maps `@boardcast/*` to sources, `outfile` defaults to `public/app.js`. */
export function buildPage(options?: { alias?: Record<string, string>; outfile?: string }): Promise<void>;
