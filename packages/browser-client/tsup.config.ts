import { packageConfig } from '../../tsup.base';

// `sse` and `ws` are single-transport entries so a page that needs one
// transport does not ship the other; `channels` holds the channel client, so
// a page that names no channels does not ship it; `bindings` is what the UI
// bindings (@boardcast/react, @boardcast/vue) share. The ESM build is code-split so that the
// `import('./sse-fetch.js')` in the SSE transport stays a separate chunk in
// dist: a bundler consuming the package then keeps eventsource-parser out of
// the initial bundle too. CJS (Node) inlines it.
export default packageConfig(
  {
    index: 'src/index.ts',
    sse: 'src/sse.ts',
    ws: 'src/ws.ts',
    channels: 'src/channels.ts',
    bindings: 'src/bindings.ts',
  },
  {
    esbuildOptions(options, { format }) {
      options.splitting = format === 'esm';
    },
  },
);
