/** cloister's attestation core: parse and verify evidence, then judge it with a policy. */
export { DcapVerifier, quoteTee, type DcapVerifyOptions } from './dcap/verify.js';
export {
  parseQuote,
  type Quote,
  type QuoteBody,
  type QuoteHeader,
  type SgxReportBody,
  type TdReportBody,
} from './dcap/quote.js';
export {
  prepareCollateral,
  collateralWindow,
  parseTcbInfo,
  parseQeIdentity,
  QUOTE_COLLATERAL_FIELDS,
  type QuoteCollateralV3,
  type PreparedCollateral,
  type TcbInfo,
  type QeIdentity,
} from './dcap/collateral.js';
export { intelSgxRootCa, customRoot, isIntelRoot, INTEL_SGX_ROOT_CA_SHA256 } from './dcap/root.js';
export { checkIdentityPinned, checkPolicy, parsePolicy, type Policy } from './policy.js';
export { TEE_KINDS, claimText, type TeeKind, type Verdict, type Claims, type ClaimValue } from './verdict.js';
export { TCB_STATUS, type TcbStatus } from './tcb-status.js';
export { parseCertificate, parseCrl, type Certificate, type Crl } from './lib/x509.js';
export {
  verifyMaaToken,
  verifyMaaTokenSync,
  jwksFromJku,
  DEFAULT_MIN_RSA_BITS,
  type MaaTokenOptions,
  type MaaVerifyOptions,
} from './maa/verify.js';
export { parseJwks, JwkSet, type VerificationKey } from './maa/jwks.js';
export {
  decodeJws,
  verifyJwsSignature,
  base64url,
  JWS_ALGORITHMS,
  MAX_TOKEN_LENGTH,
  type DecodedJws,
  type JwsHeader,
  type JwsAlgorithm,
  type JwsAlgorithmSpec,
} from './maa/jws.js';
export { maaClaims, MAA_CLAIMS, MAA_EXTENSION_CLAIMS } from './maa/claims.js';
export { SnpVerifier, type SnpCerts, type SnpVerifyOptions, type SnpVerifierOptions } from './snp/verify.js';
export {
  parseSnpReport,
  SNP_REPORT_SIZE,
  SNP_SIGNED_SIZE,
  SNP_REPORT_VERSIONS,
  GUEST_POLICY_FLAGS,
  type SnpReport,
  type SnpReportVersion,
  type SnpGuestPolicy,
  type SnpFirmwareVersion,
} from './snp/report.js';
export {
  verifyEndorsement,
  amdExtensions,
  AMD_OID,
  ENDORSEMENT_KEYS,
  type Endorsement,
  type EndorsementInput,
  type EndorsementKind,
  type AmdExtensions,
  type SnpRoots,
} from './snp/endorsement.js';
export {
  PRODUCT_LINES,
  TCB_COMPONENTS,
  TCB_LAYOUTS,
  productOfCpuid,
  productOfName,
  decodeTcb,
  type ProductLine,
  type Tcb,
  type TcbComponent,
  type TcbLayout,
} from './snp/product.js';
export { amdArk, ARK_DER_BASE64 } from './snp/roots.js';
export { SNP_CLAIMS, snpClaims } from './snp/claims.js';
export { verifyAzureVtpm, type AzureVtpmOptions } from './azure/verify.js';
export { parseAzureEvidence, type AzureVtpmEvidence } from './azure/evidence.js';
export { parseHclReport, HCL_AK_KID, type HclReport } from './azure/hcl.js';
export { parseTpmQuote, parseTpmSignature, verifyTpmQuote, type TpmQuote } from './azure/tpm.js';
export { parseCertTable, encodeCertTable, splitSnpEvidence, SNP_CERT_GUIDS } from './snp/evidence.js';
export { evidenceKind } from './evidence-kind.js';
