/**
 * The manifest as cloister holds it after validation: MarbleRun's sections and field names
 * (MarbleRun docs, "Defining a manifest"), with every default filled in, so that code downstream
 * never meets a missing field. Maps are null-prototype records: a name such as `constructor` is
 * only ever a manifest entry.
 */

/**
 * cloister's `Package.TEE` (default `sgx`); `sim` is the simulated platform, which produces SGX-format quotes.
 *
 * @example
 * ```ts
 * const tee: TeeKind = manifest.Packages['backend']?.TEE ?? 'sgx';
 * ```
 */
export type TeeKind = 'sgx' | 'tdx' | 'snp' | 'sim';

/**
 * MarbleRun "Packages": the reference values an enclave, TD or VM must present. Hex strings are
 * kept as written (compared case-insensitively).
 *
 * @example
 * ```ts
 * const pkg: Package = { TEE: 'sgx', Debug: false, SignerID: 'c1'.repeat(32), ProductID: 1, SecurityVersion: 2 };
 * ```
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

/**
 * How `Value.Data` is written in the manifest (MarbleRun "Files and Env": `Encoding`).
 *
 * @example
 * ```ts
 * const encoding: ValueEncoding = 'base64';
 * ```
 */
export type ValueEncoding = 'string' | 'base64' | 'hex';

/**
 * A file's or an environment variable's content. A plain JSON string becomes
 * `{ Data, Encoding: 'string', NoTemplates: false }`. `Data` stays as written (still base64 or
 * hex encoded); {@link renderParameters} decodes it.
 *
 * @example
 * ```ts
 * const v: Value = { Data: 'Zm9v', Encoding: 'base64', NoTemplates: true };
 * ```
 */
export interface Value {
  Data: string;
  Encoding: ValueEncoding;
  NoTemplates: boolean;
}

/**
 * MarbleRun "Marbles": `Parameters`. Argv is passed as written (MarbleRun: no templates).
 *
 * @example
 * ```ts
 * const p: Parameters = { Files: {}, Env: { MODE: { Data: 'prod', Encoding: 'string', NoTemplates: false } }, Argv: ['./server'] };
 * ```
 */
export interface Parameters {
  Files: Record<string, Value>;
  Env: Record<string, Value>;
  Argv: string[];
}

/**
 * MarbleRun "Marbles": a service of the deployment.
 *
 * @example
 * ```ts
 * const unlimited = manifest.Marbles['backend']?.MaxActivations === 0;
 * ```
 */
export interface Marble {
  Package: string;
  /** 0 = unlimited. */
  MaxActivations: number;
  Parameters: Parameters;
  /** Tags of the `TLS` section. */
  TLS: string[];
  /** cloister: DNS names beyond its own the service may have in its certificate (manifest/names.ts). */
  DNSNames?: string[];
  /** cloister: IP addresses beyond the loopback ones the service may have in its certificate. */
  IPAddresses?: string[];
}

/**
 * MarbleRun "Secrets": `Type` (see SECRET_TYPES for each type's rules).
 *
 * @example
 * ```ts
 * const type: SecretType = 'cert-ecdsa';
 * ```
 */
export type SecretType = 'symmetric-key' | 'cert-rsa' | 'cert-ecdsa' | 'cert-ed25519' | 'plain';

/** Go `pkix.Name` fields, as MarbleRun's `Cert.Subject` takes them (those cloister's PKI writes).  *
 * @example
 * ```ts
 * const subject: CertSubject = { CommonName: 'api', Organization: ['Acme'], Country: ['DE'] };
 * ```
 */
export interface CertSubject {
  CommonName?: string;
  Organization?: string[];
  OrganizationalUnit?: string[];
  /** ISO 3166 two-letter codes. */
  Country?: string[];
  Province?: string[];
  Locality?: string[];
}

/**
 * The subset of Go's `x509.Certificate` that MarbleRun's `Cert` takes and cloister's PKI honours.
 * `null` in the manifest means absent.
 *
 * @example
 * ```ts
 * const cert: CertTemplate = { Subject: { CommonName: 'api' }, DNSNames: ['api', 'localhost'], IPAddresses: ['127.0.0.1'] };
 * ```
 */
export interface CertTemplate {
  Subject?: CertSubject;
  DNSNames?: string[];
  IPAddresses?: string[];
}

/**
 * MarbleRun "Secrets": a secret to generate, or one a user uploads (`UserDefined`).
 *
 * @example
 * ```ts
 * const key: SecretSpec = { Type: 'symmetric-key', Size: 256, Shared: true, UserDefined: false, ValidFor: 0 };
 * ```
 */
export interface SecretSpec {
  Type: SecretType;
  /** Bits; defaults by type (symmetric-key has none: required; cert-rsa 2048; cert-ecdsa 256; cert-ed25519 and plain 0). */
  Size: number;
  Shared: boolean;
  UserDefined: boolean;
  /** Days, for generated certificates (default 365); 0 for other types and user-defined secrets. */
  ValidFor: number;
  Cert?: CertTemplate;
}

/**
 * MarbleRun "Users".
 *
 * @example
 * ```ts
 * const admin: User = { Certificate: '-----BEGIN CERTIFICATE-----\n...', Roles: ['secretAdmin'] };
 * ```
 */
export interface User {
  /** One PEM certificate. */
  Certificate: string;
  Roles: string[];
}

/**
 * MarbleRun "Roles": `ResourceType` values.
 *
 * @example
 * ```ts
 * const type: ResourceType = 'Secrets';
 * ```
 */
export type ResourceType = 'Secrets' | 'Packages' | 'Manifest' | 'Volumes';

/**
 * MarbleRun "Roles": `Actions` values (matched case-insensitively, kept in this spelling).
 *
 * @example
 * ```ts
 * const mayWrite = role.Actions.includes('WriteSecret');
 * ```
 */
export type RoleAction =
  | 'ReadSecret'
  | 'WriteSecret'
  | 'UpdateSecurityVersion'
  | 'UpdateManifest'
  | 'SealVolume'
  | 'OpenVolume'
  | 'ResealVolume';

/**
 * MarbleRun "Roles".
 *
 * @example
 * ```ts
 * const role: Role = { ResourceType: 'Secrets', ResourceNames: ['dbPassword'], Actions: ['ReadSecret', 'WriteSecret'] };
 * ```
 */
export interface Role {
  ResourceType: ResourceType;
  ResourceNames: string[];
  Actions: RoleAction[];
}

/**
 * MarbleRun "TLS": a connection to elevate to TLS.
 *
 * @example
 * ```ts
 * const out: TlsOutgoing = { Port: '8443', Addr: 'backend' };
 * ```
 */
export type TlsOutgoing = { Port: string; Addr: string };
/**
 * MarbleRun "TLS": a served port; `Cert` (a certificate secret) goes with `DisableClientAuth`.
 *
 * @example
 * ```ts
 * const served: TlsIncoming = { Port: '443', Cert: 'webCert', DisableClientAuth: true };
 * ```
 */
export type TlsIncoming = { Port: string; Cert?: string; DisableClientAuth: boolean };
/**
 * MarbleRun "TLS": a tag that Marbles name.
 *
 * @example
 * ```ts
 * const tag: TlsTag = { Outgoing: [], Incoming: [{ Port: '8443', DisableClientAuth: false }] };
 * ```
 */
export type TlsTag = { Outgoing: TlsOutgoing[]; Incoming: TlsIncoming[] };

/**
 * MarbleRun "Config": `SealMode` ("" is the default, ProductKey).
 *
 * @example
 * ```ts
 * const mode: SealMode = manifest.Config.SealMode ?? '';
 * ```
 */
export type SealMode = '' | 'ProductKey' | 'UniqueKey' | 'Disabled';
/**
 * MarbleRun "Config": `FeatureGates` values.
 *
 * @example
 * ```ts
 * const signQuote = manifest.Config.FeatureGates?.includes('SignQuoteEndpoint') ?? false;
 * ```
 */
export type FeatureGate = 'SignQuoteEndpoint' | 'MonotonicCounter' | 'AzureHSMSealing';

/**
 * MarbleRun "Config": only the fields present in the manifest.
 *
 * @example
 * ```ts
 * const threshold = manifest.Config.UpdateThreshold ?? 0;
 * ```
 */
export type ManifestConfig = {
  SealMode?: SealMode;
  FeatureGates?: FeatureGate[];
  UpdateThreshold?: number;
  RecoveryThreshold?: number;
  RotateRootSecret?: boolean;
};

/**
 * A validated manifest: every section present, every default filled in.
 *
 * @example
 * ```ts
 * const { manifest } = parseManifest(bytes);
 * for (const [name, marble] of Object.entries(manifest.Marbles)) console.log(name, marble.Package);
 * ```
 */
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
  /** cloister's protected volumes. */
  Volumes: Record<string, Volume>;
}

/**
 * A protected volume (cloister's extension): encrypted files released only to the listed
 * services. `read-only` pins every file's root hash when sealed (code, models); `read-write`
 * lets the services change files, the coordinator recording each file's version and root (data).
 *
 * @example
 * ```ts
 * const code: Volume = { Mode: 'read-only', Services: ['backend'], Sealed: '/app.sealed', Path: '/run/app' };
 * ```
 */
export interface Volume {
  Mode: 'read-only' | 'read-write';
  Services: string[];
  /** Where the encrypted folder is at run time (relative to the service's working folder, or absolute). */
  Sealed: string;
  /** Where `cloister run` places the decrypted files (a private folder, mode 0700). */
  Path: string;
}

/**
 * What {@link parseManifest} returns.
 *
 * @example
 * ```ts
 * const { fingerprint, raw } = parseManifest(bytes);   // store raw, show fingerprint
 * ```
 */
export interface ParsedManifest {
  manifest: Manifest;
  /** Lowercase hex SHA-256 of the exact bytes. */
  fingerprint: string;
  /** The exact bytes (UTF-8 of a string input). */
  raw: Uint8Array;
}

/**
 * A secret's value, as the coordinator generates or a user uploads it.
 *
 * @example
 * ```ts
 * const aes: SecretValue = { type: 'symmetric-key', key: randomBytes(32) };
 * ```
 */
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

/**
 * What templates may use when rendering one Marble's parameters.
 *
 * @example
 * ```ts
 * const ctx: RenderContext = { secrets: { apiKey: aes }, rootCa, marbleCert, marbleKey };
 * ```
 */
export interface RenderContext {
  secrets: Readonly<Record<string, SecretValue>>;
  /** The secrets as they were before the last update (MarbleRun's `.Previous.Secrets`); absent ones are the current. */
  previousSecrets?: Readonly<Record<string, SecretValue>>;
  /** DER. */
  rootCa: Uint8Array;
  /** DER. */
  marbleCert: Uint8Array;
  /** PKCS#8 DER. */
  marbleKey: Uint8Array;
}

/**
 * What {@link renderParameters} returns: file contents by path, environment, arguments.
 *
 * @example
 * ```ts
 * const { files, env, argv } = renderParameters(manifest, 'backend', ctx);
 * ```
 */
export interface Rendered {
  files: Record<string, Uint8Array>;
  env: Record<string, string>;
  argv: string[];
}
