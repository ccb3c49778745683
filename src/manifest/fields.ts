import { REFERENCE_VALUES, type ReferenceName } from './tee.js';

const REFERENCE_NAMES = Object.keys(REFERENCE_VALUES) as ReferenceName[];

/** The list-valued fields of a certificate subject (Go `pkix.Name`) cloister writes, in the order Go writes them. */
export const SUBJECT_LISTS = [
  'Country',
  'Province',
  'Locality',
  'StreetAddress',
  'PostalCode',
  'Organization',
  'OrganizationalUnit',
] as const;

/**
 * The fields of Go's `x509.Certificate` (MarbleRun's `Secrets.*.Cert` is one, decoded from JSON
 * and used as the template of the generated certificate). Those cloister honours are read in
 * sections/secrets.ts; the others are accepted and reported as ignored (docs/marblerun.md).
 */
export const X509_CERTIFICATE_FIELDS = [
  'Raw',
  'RawTBSCertificate',
  'RawSubjectPublicKeyInfo',
  'RawSubject',
  'RawIssuer',
  'Signature',
  'SignatureAlgorithm',
  'PublicKeyAlgorithm',
  'PublicKey',
  'Version',
  'SerialNumber',
  'Issuer',
  'Subject',
  'NotBefore',
  'NotAfter',
  'KeyUsage',
  'Extensions',
  'ExtraExtensions',
  'UnhandledCriticalExtensions',
  'ExtKeyUsage',
  'UnknownExtKeyUsage',
  'BasicConstraintsValid',
  'IsCA',
  'MaxPathLen',
  'MaxPathLenZero',
  'SubjectKeyId',
  'AuthorityKeyId',
  'OCSPServer',
  'IssuingCertificateURL',
  'DNSNames',
  'EmailAddresses',
  'IPAddresses',
  'URIs',
  'PermittedDNSDomainsCritical',
  'PermittedDNSDomains',
  'ExcludedDNSDomains',
  'PermittedIPRanges',
  'ExcludedIPRanges',
  'PermittedEmailAddresses',
  'ExcludedEmailAddresses',
  'PermittedURIDomains',
  'ExcludedURIDomains',
  'CRLDistributionPoints',
  'PolicyIdentifiers',
  'Policies',
  'InhibitAnyPolicy',
  'InhibitAnyPolicyZero',
  'InhibitPolicyMapping',
  'InhibitPolicyMappingZero',
  'RequireExplicitPolicy',
  'RequireExplicitPolicyZero',
  'PolicyMappings',
] as const;

/**
 * The known fields of every object of the manifest: the fields of MarbleRun's Go types
 * (`coordinator/manifest`, `coordinator/quote`, `crypto/x509`), and cloister's extensions
 * (`TEE` and its reference values, `Marbles.*.DNSNames`/`IPAddresses`, `Volumes`). A field not
 * listed is ignored with a warning, as Go's decoder ignores it (`Volumes` excepted: there it is
 * an error). `schema/manifest.schema.json` has one `$defs` entry per row with exactly these
 * properties (a test checks it).
 *
 * @example
 * ```ts
 * FIELDS.Marble;   // ['Package', 'MaxActivations', 'Parameters', 'TLS', 'DisableSecretBinding', ...]
 * ```
 */
export const FIELDS = {
  Manifest: [
    'Packages',
    'Infrastructures',
    'Marbles',
    'Users',
    'Secrets',
    'RecoveryKeys',
    'Roles',
    'TLS',
    'Config',
    'Volumes',
  ],
  Package: ['Debug', ...REFERENCE_NAMES, 'AcceptedTCBStatuses', 'AcceptedAdvisories', 'TEE'],
  Infrastructure: ['CPUSVN', 'QESVN', 'PCESVN', 'RootCA'],
  Marble: ['Package', 'MaxActivations', 'Parameters', 'TLS', 'DisableSecretBinding', 'DNSNames', 'IPAddresses'],
  Parameters: ['Files', 'Env', 'Argv'],
  Value: ['Data', 'Encoding', 'NoTemplates'],
  Secret: ['Type', 'Size', 'Shared', 'UserDefined', 'Cert', 'ValidFor', 'Private', 'Public'],
  Cert: X509_CERTIFICATE_FIELDS,
  Subject: [...SUBJECT_LISTS, 'SerialNumber', 'CommonName', 'Names', 'ExtraNames'],
  User: ['Certificate', 'Roles'],
  Role: ['ResourceType', 'ResourceNames', 'Actions'],
  TlsTag: ['Outgoing', 'Incoming'],
  // MarbleRun's TLSTagEntry: one type for both directions.
  TlsEntry: ['Port', 'Addr', 'Cert', 'DisableClientAuth'],
  Config: ['SealMode', 'FeatureGates', 'UpdateThreshold', 'RecoveryThreshold', 'RotateRootSecret'],
  Volume: ['Mode', 'Services', 'Sealed', 'Path'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Whether a JSON value is Go's zero value for its field (what `json.Marshal` writes for a field
 * never set): null, false, 0, "", an empty list, the zero `time.Time`, or an object of zero values.
 *
 * @example
 * ```ts
 * isGoZero({ CommonName: '', Names: null });   // true
 * ```
 */
export function isGoZero(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === '' || v === GO_ZERO_TIME) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.values(v).every(isGoZero);
}

/** `time.Time{}` as `encoding/json` writes it (RFC 3339). */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
