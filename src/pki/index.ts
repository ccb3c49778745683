/**
 * cloister's PKI: the root and intermediate CA, workload leaf certificates and generated secrets.
 * Pure apart from randomness: the clock is passed in as Unix seconds.
 */
export { createCa, type CaBundle, type Issuer } from './ca.js';
export { issueLeaf, type LeafRequest } from './issue.js';
export { generateSecret, type SecretRequest, type SecretValue } from './secret.js';
export { certChain, pemCert, pemPrivateKey, pemPublicKey, servingChain } from './pem.js';
