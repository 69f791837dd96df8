import { packageConfig } from '../../tsup.base';

export default packageConfig({ index: 'src/index.ts', contract: 'src/contract.ts' });
