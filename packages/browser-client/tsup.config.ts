import { packageConfig } from '../../tsup.base';

// `sse` and `ws` are single-transport entries so a page that needs one
// transport does not ship the other.
export default packageConfig({ index: 'src/index.ts', sse: 'src/sse.ts', ws: 'src/ws.ts' });
