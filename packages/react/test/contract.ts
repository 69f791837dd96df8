// The LED contract both UI bindings' tests and pages share.
export { contract } from '../../../test-support/led-contract.js';
