/**
 * cloister's manifest: MarbleRun's manifest format (Packages, Marbles, Secrets, Users, Roles,
 * RecoveryKeys, TLS, Config, and its templates) with per-TEE reference values. Pure: no I/O, no
 * clock.
 */
export { parseManifest } from './parse.js';
export { SECRET_TYPE_NAMES } from './secret-types.js';
export { packagePolicy, simulationWarnings } from './policy.js';
export { dnsNameProblem, ipAddressProblem, isServiceName } from './names.js';
export { renderParameters, referencedSecrets } from './render.js';
export type {
  TeeKind,
  Package,
  Value,
  Marble,
  SecretType,
  SecretSpec,
  User,
  Role,
  Manifest,
  ParsedManifest,
  SecretValue,
  RenderContext,
  Rendered,
  // The parts of the types above, for code that names them.
  ValueEncoding,
  Parameters,
  CertSubject,
  CertTemplate,
  ResourceType,
  RoleAction,
  TlsTag,
  TlsIncoming,
  TlsOutgoing,
  ManifestConfig,
  SealMode,
  FeatureGate,
} from './types.js';
