/**
 * The manifest as cloister holds it after validation: MarbleRun's sections and field names
 * (MarbleRun docs, "Defining a manifest"), with every default filled in, so that code downstream
 * never meets a missing field. Maps are null-prototype records: a name such as `constructor` is
 * only ever a manifest entry.
 *
 * @example
 * ```ts
 * const { manifest } = parseManifest(bytes);
 * for (const [name, marble] of Object.entries(manifest.Marbles)) console.log(name, marble.Package);
 * ```
 */

/** cloister's `Package.TEE` (default `sgx`); `sim` is the simulated platform, which produces SGX-format quotes. */
export type TeeKind = 'sgx' | 'tdx' | 'snp' | 'sim';

/**
 * MarbleRun "Packages": the reference values an enclave, TD or VM must present. Hex strings are
 * kept as written (compared case-insensitively).
 */
export interface Package {
  /** SGX MRENCLAVE, 32 bytes of hex. */
  UniqueID?: string;
  /** SGX MRSIGNER, 32 bytes of hex. */
  SignerID?: string;
  /** SGX ISVPRODID. */
  ProductID?: number;
  /** SGX ISVSVN: the minimum accepted. */
  SecurityVersion?: number;
  /** Accept debug enclaves and TDs (default false). */
  Debug: boolean;
  /** TCB statuses accepted (default: UpToDate only). */
  AcceptedTCBStatuses?: string[];
  /** Advisory IDs accepted (default: none). */
  AcceptedAdvisories?: string[];
  TEE: TeeKind;
  /** TDX MRTD, 48 bytes of hex. */
  MRTD?: string;
  /** TDX RTMR0.., 48 bytes of hex each, at most four. */
  RTMRs?: string[];
  /** SEV-SNP launch measurement, 48 bytes of hex. */
  Measurement?: string;
  /** SEV-SNP HOST_DATA, 32 bytes of hex. */
  HostData?: string;
}

/** How `Value.Data` is written in the manifest (MarbleRun "Files and Env": `Encoding`). */
export type ValueEncoding = 'string' | 'base64' | 'hex';

/**
 * A file's or an environment variable's content. A plain JSON string becomes
 * `{ Data, Encoding: 'string', NoTemplates: false }`. `Data` stays as written (still base64 or
 * hex encoded); {@link renderParameters} decodes it.
 */
export interface Value {
  Data: string;
  Encoding: ValueEncoding;
  NoTemplates: boolean;
}

/** MarbleRun "Marbles": `Parameters`. Argv is passed as written (MarbleRun: no templates). */
export interface Parameters {
  Files: Record<string, Value>;
  Env: Record<string, Value>;
  Argv: string[];
}

/** MarbleRun "Marbles": a service of the deployment. */
export interface Marble {
  Package: string;
  /** 0 = unlimited. */
  MaxActivations: number;
  Parameters: Parameters;
  /** Tags of the `TLS` section. */
  TLS: string[];
}

export type SecretType = 'symmetric-key' | 'cert-rsa' | 'cert-ecdsa' | 'cert-ed25519' | 'plain';

/** Go `pkix.Name` fields, as MarbleRun's `Cert.Subject` takes them. */
export interface CertSubject {
  CommonName?: string;
  SerialNumber?: string;
  Country?: string[];
  Organization?: string[];
  OrganizationalUnit?: string[];
  Locality?: string[];
  Province?: string[];
  StreetAddress?: string[];
  PostalCode?: string[];
}

/**
 * The subset of Go's `x509.Certificate` that MarbleRun's `Cert` takes and cloister supports.
 * `null` in the manifest means absent.
 */
export interface CertTemplate {
  Subject?: CertSubject;
  DNSNames?: string[];
  IPAddresses?: string[];
  EmailAddresses?: string[];
  /** RFC 3339; when set, `ValidFor` is 0. */
  NotAfter?: string;
  /** Go `x509.KeyUsage` bits: 1 digitalSignature, 2 contentCommitment, 4 keyEncipherment, 8 dataEncipherment, 16 keyAgreement, 32 keyCertSign, 64 cRLSign, 128 encipherOnly, 256 decipherOnly. 0 = default. */
  KeyUsage?: number;
  /** Go `x509.ExtKeyUsage` values: 0 any, 1 serverAuth, 2 clientAuth, 3 codeSigning, 4 emailProtection, ..., 8 timeStamping, 9 OCSPSigning. */
  ExtKeyUsage?: number[];
}

/** MarbleRun "Secrets": a secret to generate, or one a user uploads (`UserDefined`). */
export interface SecretSpec {
  Type: SecretType;
  /** Bits; defaults by type (symmetric-key has none: required; cert-rsa 2048; cert-ecdsa 256; cert-ed25519 and plain 0). */
  Size: number;
  Shared: boolean;
  UserDefined: boolean;
  /** Days, for certificates (default 365); 0 for other types and when `Cert.NotAfter` fixes the expiry. */
  ValidFor: number;
  Cert?: CertTemplate;
}

/** MarbleRun "Users". */
export interface User {
  /** One PEM certificate. */
  Certificate: string;
  Roles: string[];
}

/** MarbleRun "Roles": `ResourceType` values. */
export type ResourceType = 'Secrets' | 'Packages' | 'Manifest';

/** MarbleRun "Roles": `Actions` values (matched case-insensitively, kept in this spelling). */
export type RoleAction = 'ReadSecret' | 'WriteSecret' | 'UpdateSecurityVersion' | 'UpdateManifest';

/** MarbleRun "Roles". */
export interface Role {
  ResourceType: ResourceType;
  ResourceNames: string[];
  Actions: RoleAction[];
}

/** MarbleRun "TLS": a connection to elevate to TLS. */
export type TlsOutgoing = { Port: string; Addr: string };
/** MarbleRun "TLS": a served port; `Cert` (a certificate secret) goes with `DisableClientAuth`. */
export type TlsIncoming = { Port: string; Cert?: string; DisableClientAuth: boolean };
/** MarbleRun "TLS": a tag that Marbles name. */
export type TlsTag = { Outgoing: TlsOutgoing[]; Incoming: TlsIncoming[] };

export type SealMode = '' | 'ProductKey' | 'UniqueKey' | 'Disabled';
export type FeatureGate = 'SignQuoteEndpoint' | 'MonotonicCounter' | 'AzureHSMSealing';

/** MarbleRun "Config": only the fields present in the manifest. */
export type ManifestConfig = {
  SealMode?: SealMode;
  FeatureGates?: FeatureGate[];
  UpdateThreshold?: number;
  RecoveryThreshold?: number;
  RotateRootSecret?: boolean;
};

export interface Manifest {
  Packages: Record<string, Package>;
  Marbles: Record<string, Marble>;
  Secrets: Record<string, SecretSpec>;
  Users: Record<string, User>;
  Roles: Record<string, Role>;
  /** PEM RSA public keys (MarbleRun "RecoveryKeys"). */
  RecoveryKeys: Record<string, string>;
  TLS: Record<string, TlsTag>;
  Config: ManifestConfig;
}

export interface ParsedManifest {
  manifest: Manifest;
  /** Lowercase hex SHA-256 of the exact bytes. */
  fingerprint: string;
  /** The exact bytes (UTF-8 of a string input). */
  raw: Uint8Array;
}

/** A secret's value, as the coordinator generates or a user uploads it. */
export interface SecretValue {
  type: SecretType;
  /** symmetric-key and plain. */
  key?: Uint8Array;
  /** DER certificate. */
  cert?: Uint8Array;
  /** PKCS#8 DER. */
  private?: Uint8Array;
  /** SPKI DER (derived from `cert` when absent). */
  public?: Uint8Array;
}

/** What templates may use when rendering one Marble's parameters. */
export interface RenderContext {
  secrets: Readonly<Record<string, SecretValue>>;
  /** DER. */
  rootCa: Uint8Array;
  /** DER. */
  marbleCert: Uint8Array;
  /** PKCS#8 DER. */
  marbleKey: Uint8Array;
}

export interface Rendered {
  files: Record<string, Uint8Array>;
  env: Record<string, string>;
  argv: string[];
}
