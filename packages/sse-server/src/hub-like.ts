import type { ContractSpec, Hub } from '@boardcast/core';

/** The contract-independent part of a hub that the endpoints use. */
export type AnyHub = Pick<Hub<ContractSpec>, 'attach' | 'dispatch' | 'on' | 'emit' | 'closed' | 'contract'>;
