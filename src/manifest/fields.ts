import { REFERENCE_VALUES, type ReferenceName } from './tee.js';

const REFERENCE_NAMES = Object.keys(REFERENCE_VALUES) as ReferenceName[];

/** The list-valued fields of a certificate subject (Go `pkix.Name`). */
export const SUBJECT_LISTS = ['Country', 'Organization', 'OrganizationalUnit', 'Locality', 'Province'] as const;

/**
 * The known fields of every object of the manifest, named as in MarbleRun's manifest reference
 * ("Defining a manifest"). A field not listed is an error. `schema/manifest.schema.json` has one
 * `$defs` entry per row with exactly these properties (a test checks it).
 *
 * @example
 * ```ts
 * FIELDS.Marble;   // ['Package', 'MaxActivations', 'Parameters', 'TLS']
 * ```
 */
export const FIELDS = {
  Manifest: ['Packages', 'Marbles', 'Secrets', 'Users', 'Roles', 'RecoveryKeys', 'TLS', 'Config', 'Volumes'],
  Package: ['TEE', 'Debug', ...REFERENCE_NAMES, 'AcceptedTCBStatuses', 'AcceptedAdvisories'],
  Marble: ['Package', 'MaxActivations', 'Parameters', 'TLS', 'DNSNames', 'IPAddresses'],
  Parameters: ['Files', 'Env', 'Argv'],
  Value: ['Data', 'Encoding', 'NoTemplates'],
  Secret: ['Type', 'Size', 'Shared', 'UserDefined', 'ValidFor', 'Cert'],
  Cert: ['Subject', 'DNSNames', 'IPAddresses'],
  Subject: ['CommonName', ...SUBJECT_LISTS],
  User: ['Certificate', 'Roles'],
  Role: ['ResourceType', 'ResourceNames', 'Actions'],
  TlsTag: ['Outgoing', 'Incoming'],
  TlsOutgoing: ['Port', 'Addr'],
  TlsIncoming: ['Port', 'Cert', 'DisableClientAuth'],
  Config: ['SealMode', 'FeatureGates', 'UpdateThreshold', 'RecoveryThreshold', 'RotateRootSecret'],
  Volume: ['Mode', 'Services', 'Sealed', 'Path'],
} as const satisfies Record<string, readonly string[]>;
