import type { ContractSpec, Hub } from '@boardcast/core';

/** The contract-independent part of a hub that the endpoints use. */
export type AnyHub = Pick<
  Hub<ContractSpec>,
  'attach' | 'connect' | 'dispatch' | 'directoryPage' | 'access' | 'on' | 'emit' | 'closed' | 'contract'
>;
