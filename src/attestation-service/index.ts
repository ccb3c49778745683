/**
 * cloister's attestation service, compatible with Azure Attestation's data plane (REST paths,
 * request bodies, token format and claim names): see docs/attestation-service.md.
 */
export {
  AttestationService,
  ATTEST_ENDPOINTS,
  collateralSet,
  fixedCollateral,
  type AttestEndpoint,
  type AttestOutcome,
  type AttestationServiceOptions,
  type CollateralSet,
  type CollateralSource,
} from './service.js';
export {
  API_VERSIONS,
  DATA_TYPES,
  openEnclaveQuote,
  parseAttestRequest,
  snpEvidence,
  type AttestRequest,
  type DataItem,
} from './request.js';
export {
  DEPRECATED_ALIASES,
  EVIDENCE_CLAIMS,
  policyHash,
  signToken,
  tokenPayload,
  type EvidenceClaims,
  type TokenInput,
} from './token.js';
export {
  createSigningKey,
  decodeServiceState,
  encodeServiceState,
  jwks,
  rotateKeys,
  type ServiceState,
  type SigningKey,
} from './keys.js';
