/**
 * The one error class of cloister. Every refusal carries a stable `code` from {@link ERROR_CODES},
 * structured context, and the underlying `cause` when there is one.
 *
 * @example
 * ```ts
 * try { parseQuote(bytes); } catch (e) {
 *   if (e instanceof CloisterError && e.code === 'QUOTE_TRUNCATED') console.error(e.field, e.offset);
 * }
 * ```
 */
export const ERROR_CODES = {
  // Parsing of binary and JSON input.
  QUOTE_TRUNCATED: 'the input ends before a declared field or structure',
  QUOTE_TRAILING_BYTES: 'bytes follow the end of a declared structure',
  QUOTE_UNSUPPORTED_VERSION: 'the quote version is not 3, 4 or 5',
  QUOTE_UNSUPPORTED_KEY_TYPE: 'the attestation key type is not ECDSA-256-with-P-256',
  QUOTE_UNSUPPORTED_TEE_TYPE: 'the TEE type is neither SGX nor TDX',
  QUOTE_UNSUPPORTED_BODY: 'the report body type is unknown or inconsistent',
  QUOTE_BAD_QE_VENDOR: "the QE vendor id is not Intel's",
  QUOTE_UNSUPPORTED_CERT_DATA: 'the certification data type is not supported',
  DER_MALFORMED: 'a DER structure is malformed',
  PEM_MALFORMED: 'a PEM document is malformed',
  COLLATERAL_MALFORMED: 'collateral JSON does not have the expected shape',
  // Verification.
  CERT_CHAIN_INVALID: 'a certificate chain does not verify',
  CERT_NOT_YET_VALID: 'a certificate is not yet valid at the given time',
  CERT_EXPIRED: 'a certificate has expired at the given time',
  CERT_REVOKED: 'a certificate is listed in a valid CRL',
  UNTRUSTED_ROOT: 'a chain does not end at the trusted root',
  CRL_INVALID: 'a CRL is unparsable, signed by the wrong key or issued by the wrong CA',
  CRL_EXPIRED: 'a CRL is outside its thisUpdate..nextUpdate window',
  COLLATERAL_MISSING: 'collateral needed for verification was not supplied',
  COLLATERAL_INVALID: 'collateral is not signed by the trusted chain',
  COLLATERAL_EXPIRED: 'collateral is outside its issueDate..nextUpdate window',
  COLLATERAL_MISMATCH: 'collateral does not belong to this quote (TEE, FMSPC, PCEID, id)',
  PCK_EXTENSION_INVALID: 'the PCK certificate lacks a valid SGX extension',
  QE_REPORT_SIGNATURE_INVALID: 'the QE report is not signed by the PCK key',
  QE_REPORT_DATA_MISMATCH: 'the QE report does not bind the attestation key',
  QE_IDENTITY_MISMATCH: 'the quoting enclave does not match the QE identity',
  QUOTE_SIGNATURE_INVALID: 'the quote is not signed by the attestation key',
  TCB_NOT_SUPPORTED: 'no TCB level of the TCB info matches the platform',
  TDX_MODULE_MISMATCH: "the TDX module does not match the TCB info's module identity",
  COLLATERAL_FETCH_FAILED: 'collateral could not be fetched (network, TLS, timeout, non-200 status)',
  COLLATERAL_RESPONSE_INVALID: 'a collateral service answered with something unusable',
  COLLATERAL_CACHE_INVALID: 'the collateral cache is unreadable, inconsistent or not writable',
  // AMD SEV-SNP reports (SEV-SNP ABI spec, ATTESTATION_REPORT) and their VCEK/VLEK chains.
  SNP_REPORT_TRUNCATED: 'the SNP attestation report is shorter than 1184 bytes',
  SNP_REPORT_TRAILING_BYTES: 'bytes follow the 1184-byte SNP attestation report',
  SNP_REPORT_UNSUPPORTED_VERSION: 'the SNP report version is not 2, 3 or 5',
  SNP_REPORT_RESERVED_NONZERO: 'a reserved field or bit of the SNP report is not zero',
  SNP_REPORT_INVALID:
    'an SNP report field has a value the ABI does not allow (signature algorithm, signing key, policy, CPUID)',
  SNP_SIGNATURE_INVALID: 'the SNP report is not signed by the VCEK or VLEK key',
  SNP_ENDORSEMENT_INVALID:
    'the VCEK or VLEK certificate lacks valid AMD extensions (product, TCB, hardware id) or a P-384 key',
  SNP_CHIP_ID_MISMATCH: "the VCEK hardware id is not the report's CHIP_ID",
  SNP_TCB_MISMATCH: "the VCEK or VLEK TCB extensions are not the report's REPORTED_TCB",
  SNP_PRODUCT_MISMATCH: 'report, certificates and ARK are of different product lines (Milan, Genoa, Turin)',
  // Azure confidential VMs: HCL report, runtime claims, vTPM quote (TPM 2.0 Part 2).
  AZURE_EVIDENCE_MALFORMED: 'the Azure vTPM evidence does not have the expected shape',
  AZURE_HCL_TRUNCATED: 'the HCL report ends before a declared field',
  AZURE_HCL_INVALID: 'the HCL report header, request data or padding is not valid',
  AZURE_RUNTIME_CLAIMS_INVALID: 'the HCL runtime claims are not JSON or lack the vTPM attestation key',
  AZURE_REPORT_DATA_MISMATCH: 'the SNP report data is not the hash of the HCL runtime claims',
  AZURE_REPORT_VMPL: 'the SNP report in the HCL report was not issued at VMPL 0, by the paravisor',
  TPM_QUOTE_TRUNCATED: 'the TPM quote (TPMS_ATTEST or TPMT_SIGNATURE) ends before a declared field',
  TPM_QUOTE_TRAILING_BYTES: 'bytes follow the TPM quote structure',
  TPM_QUOTE_INVALID: 'the TPM quote is not a TPM-generated quote, or uses an unsupported PCR bank or signature scheme',
  TPM_QUOTE_MISSING: 'a nonce was given but the evidence has no TPM quote',
  TPM_QUOTE_SIGNATURE_INVALID: 'the TPM quote is not signed by the vTPM attestation key',
  TPM_PCR_DIGEST_MISMATCH: "the PCR values do not hash to the quote's PCR digest",
  TPM_NONCE_MISMATCH: "the TPM quote's extraData is not the expected nonce",
  // Signed tokens: JWS/JWT (RFC 7515, 7517, 7518, 7519), e.g. Azure Attestation tokens.
  TOKEN_MALFORMED: 'a token is not a compact JWS with a JSON header and payload, or a claim has the wrong type',
  TOKEN_ALGORITHM_REFUSED: "the token's alg is not on the allow-list (RS256, PS256, ES256; never none or HMAC)",
  TOKEN_HEADER_REFUSED:
    'the token header carries a parameter that is refused (crit, or a key of its own: jwk, x5c, x5u)',
  TOKEN_KEY_UNKNOWN: "no key of the trusted key set has the token's kid",
  TOKEN_KEY_REFUSED: 'the selected key does not fit the algorithm, its use, or the minimum size',
  TOKEN_SIGNATURE_INVALID: 'the token signature does not verify with the selected key',
  TOKEN_EXPIRED: 'the token has expired at the given time (exp)',
  TOKEN_NOT_YET_VALID: 'the token is not yet valid at the given time (nbf, or iat in the future)',
  TOKEN_ISSUER_MISMATCH: "the token's issuer (iss) is not the expected one",
  JWKS_INVALID: 'a JSON Web Key Set is malformed or holds a key that cannot be used',
  JWKS_FETCH_FAILED: 'a key set could not be fetched (network, TLS, timeout, non-200 status, size limit)',
  JKU_UNTRUSTED: "the token's jku is not an https URL on the list of trusted key set URLs",
  // Policy.
  POLICY_VIOLATION: 'the verdict does not satisfy the policy',
  POLICY_INVALID: 'a policy document is malformed',
  // Manifest.
  MANIFEST_INVALID: 'a manifest is malformed or inconsistent (the error names the JSON path)',
  MANIFEST_TEMPLATE: 'a manifest template cannot be rendered (a secret not set, a value missing)',
  // Coordinator, its APIs and workloads.
  MANIFEST_ALREADY_SET: 'a manifest is already set: change it with an update',
  MANIFEST_MISSING: 'no manifest has been set yet',
  UPDATE_INVALID: 'a manifest update is malformed or breaks a rule (an unknown package, a lower security version)',
  UPDATE_NOT_PENDING: 'no manifest update is pending (or a different one is)',
  UPDATE_MISMATCH: 'an acknowledgement is for other bytes than the pending update',
  RECOVERY_MODE: 'the coordinator cannot open its state key: it serves status and attestation only until recovered',
  RECOVERY_UNAVAILABLE: 'there is nothing to recover (not in recovery mode, or the state has no recovery keys)',
  RECOVERY_SHARE_INVALID: 'a recovery secret is not one issued to a holder of this state (wrong length, forged)',
  RECOVERY_SHARE_USED: "a holder's recovery secret was uploaded already",
  RECOVERY_FAILED: 'the recovery secrets combine to a key that does not open the sealed state',
  HISTORY_INVALID: "a history's chain, head or signature does not verify",
  HISTORY_ROLLBACK: 'a coordinator presents a shorter history than one seen before (an older state restored)',
  HISTORY_FORK: 'a coordinator presents a history that does not contain the head seen before',
  REQUEST_INVALID: 'a request is malformed',
  REQUEST_TOO_LARGE: 'a request body exceeds the limit',
  NOT_FOUND: 'no such endpoint or resource',
  METHOD_NOT_ALLOWED: 'the endpoint exists but does not accept this method',
  UNAUTHENTICATED: 'no known user certificate was presented',
  FORBIDDEN: "the user's roles do not allow this",
  NONCE_INVALID: 'the activation nonce is unknown, used or expired',
  ACTIVATION_REFUSED: 'the workload may not activate',
  SECRET_INVALID: 'a secret value is malformed or not user-defined',
  VERSION_CONFLICT: 'a protected file changed on the coordinator since it was read',
  COORDINATOR_UNREACHABLE: 'the coordinator could not be reached',
  COORDINATOR_UNTRUSTED: 'the coordinator failed verification',
  IDENTITY_REQUIRED: 'no expected identity was given for a party whose evidence is otherwise genuine',
  COORDINATOR_ERROR: 'the coordinator refused a request',
  NO_TEE: 'no TEE is available to produce evidence',
  // Evidence providers (src/evidence): the TEE interfaces of the machine cloister runs on.
  EVIDENCE_UNAVAILABLE: 'a TEE interface is missing or unreadable (the error names the path)',
  EVIDENCE_CONCURRENT: 'another writer used the configfs-tsm report entry at the same time (its generation moved)',
  EVIDENCE_INVALID: 'a TEE interface returned something that is not evidence of the expected kind or size',
  SNP_CERT_TABLE_INVALID: 'the SEV-SNP certificate table (configfs-tsm auxblob) is malformed',
  // The MAA-compatible attestation service (docs/attestation-service.md).
  API_VERSION_UNSUPPORTED:
    'the api-version of an attestation request is not one the service serves (2020-10-01, 2022-08-01)',
  RUNTIME_DATA_MISMATCH: "SHA-256 of the runtime data is not the first 32 bytes of the evidence's report data",
  INIT_TIME_DATA_MISMATCH:
    'SHA-256 of the init-time data is not the first 32 bytes of the SGX config id or the SNP host data',
  // Tools and I/O at the edges.
  USAGE: 'the command line is invalid',
  IO: 'a file could not be read or written',
  SIM_STATE_INVALID: 'the simulated platform state is unreadable',
  // PKI.
  PKI_INVALID: 'a certificate request, key or CA bundle is malformed or not allowed',
  // Sealed state.
  STATE_CORRUPT: 'the sealed state (or its sealing key) is unreadable: truncated, tampered, wrong key or rolled back',
  STATE_CONFLICT: 'a write would replace sealed state this store has not read',
  STATE_KEY_INVALID: 'a sealing key is not 32 bytes',
  STATE_LOCKED: 'the data directory is in use by another process',
  STATE_IO: 'the sealed state could not be read or written',
  // Protected files (src/protect, docs/protected-files.md).
  PROTECTED_OPTIONS_INVALID:
    'a protected-file option is malformed: volume key not 32 bytes, path not canonical, version or chunk size out of range, stream input not of the declared length',
  PROTECTED_HEADER_INVALID:
    "a protected file's header is malformed or fails authentication (changed, or its version field edited)",
  PROTECTED_TRUNCATED: 'a protected file ends before its header or one of its declared chunks is complete',
  PROTECTED_INTEGRITY:
    "a protected file's chunk fails authentication, bytes follow its final chunk, or its root hash is not the expected one",
  PROTECTED_ROLLBACK: 'a protected file is older than the version on record',
  PROTECTED_WRONG_PATH: 'a protected file was sealed for another path of its volume (moved or swapped)',
  PROTECTED_WRONG_KEY: 'a protected file was sealed under another volume key (or its key id was changed)',
  PROTECTED_FILE_SET:
    'the files of a protected folder differ from the record: one is missing, unrecorded or not a regular file',
  VOLUME_FOLDER_IN_USE:
    "a volume's plaintext folder is not a new or empty folder (it holds files cloister run did not put there)",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorContext {
  field?: string;
  url?: string;
  status?: number;
  offset?: number;
  path?: string;
  expected?: unknown;
  actual?: unknown;
  /** The index of the chunk of a protected file that a refusal is about. */
  chunk?: number;
  cause?: unknown;
}

export class CloisterError extends Error {
  override readonly name = 'CloisterError';
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly offset: number | undefined;
  readonly path: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly chunk: number | undefined;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.field = context.field;
    this.offset = context.offset;
    this.path = context.path;
    this.url = context.url;
    this.status = context.status;
    this.expected = context.expected;
    this.actual = context.actual;
    this.chunk = context.chunk;
  }

  /** A plain object for JSON output: `{ code, message, field?, offset?, ... }`. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) out['field'] = this.field;
    if (this.offset !== undefined) out['offset'] = this.offset;
    if (this.path !== undefined) out['path'] = this.path;
    if (this.chunk !== undefined) out['chunk'] = this.chunk;
    return out;
  }
}

/** Shorthand used by verifiers: throw a {@link CloisterError} unless `condition` holds. */
export function ensure(
  condition: unknown,
  code: ErrorCode,
  message: string,
  context?: ErrorContext,
): asserts condition {
  if (!condition) throw new CloisterError(code, message, context);
}
