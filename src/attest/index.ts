/** cloister's attestation core: parse and verify evidence, then judge it with a policy. */
export { DcapVerifier, quoteTee, type DcapVerifyOptions } from './dcap/verify.js';
export { parseQuote, type Quote, type QuoteBody, type QuoteHeader, type SgxReportBody, type TdReportBody } from './dcap/quote.js';
export { prepareCollateral, collateralWindow, parseTcbInfo, parseQeIdentity, QUOTE_COLLATERAL_FIELDS, type QuoteCollateralV3, type PreparedCollateral, type TcbInfo, type QeIdentity } from './dcap/collateral.js';
export { intelSgxRootCa, customRoot, isIntelRoot, INTEL_SGX_ROOT_CA_SHA256 } from './dcap/root.js';
export { checkPolicy, parsePolicy, type Policy } from './policy.js';
export { TEE_KINDS, type TeeKind, type Verdict, type Claims } from './verdict.js';
export { TCB_STATUS, type TcbStatus } from './tcb-status.js';
export { parseCertificate, parseCrl, type Certificate, type Crl } from './lib/x509.js';
export { verifyMaaToken, verifyMaaTokenSync, jwksFromJku, DEFAULT_MIN_RSA_BITS, type MaaTokenOptions, type MaaVerifyOptions } from './maa/verify.js';
export { parseJwks, JwkSet, type VerificationKey } from './maa/jwks.js';
export { decodeJws, verifyJwsSignature, base64url, JWS_ALGORITHMS, MAX_TOKEN_LENGTH, type DecodedJws, type JwsHeader, type JwsAlgorithm, type JwsAlgorithmSpec } from './maa/jws.js';
export { maaClaims, MAA_CLAIMS, MAA_EXTENSION_CLAIMS } from './maa/claims.js';
export { httpsJwksFetcher, type JwksFetchOptions } from './maa/fetch.js';
