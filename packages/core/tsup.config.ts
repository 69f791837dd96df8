import { packageConfig } from '../../tsup.base';

// Three entries share classes (`BoardcastError`, `EncodedEvent`, …) whose
// identity matters (`instanceof`, a bus building the events the hub folds),
// so both formats are code-split: each class exists once, in a shared chunk.
export default packageConfig(
  { index: 'src/index.ts', wire: 'src/wire.ts', server: 'src/server.ts' },
  { splitting: true },
);
