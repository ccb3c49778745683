import { createPublicKey } from 'node:crypto';
import { FIELDS } from '../fields.js';
import { firstPemBlock } from '../lib/pem.js';
import { jsonPath } from '../../lib/json.js';
import type { ManifestReader } from '../lib/go-json.js';
import type { FeatureGate, ManifestConfig, Role, SealMode, User } from '../types.js';

/** MarbleRun "Config": `SealMode` values ("" means the default, ProductKey). */
export const SEAL_MODES: readonly SealMode[] = ['', 'ProductKey', 'UniqueKey', 'Disabled'];
/** MarbleRun "Config": `FeatureGates` values (matched case-insensitively, as MarbleRun does). */
export const FEATURE_GATES: readonly FeatureGate[] = ['SignQuoteEndpoint', 'MonotonicCounter', 'AzureHSMSealing'];

/**
 * Reads MarbleRun's `RecoveryKeys`: PEM (SPKI) RSA public keys, used to encrypt recovery secrets.
 *
 * @example
 * ```ts
 * const keys = readRecoveryKeys(r, { admin: '-----BEGIN PUBLIC KEY-----\n...' });
 * ```
 */
export function readRecoveryKeys(r: ManifestReader, v: unknown): Record<string, string> {
  return r.map(v, 'RecoveryKeys', (x, path) => {
    const pem = r.asString(x, path);
    // MarbleRun's ParseRSAPublicKeyFromPEM: the first PEM block, a "PUBLIC KEY", PKIX, RSA.
    const block = firstPemBlock(pem);
    if (block?.label !== 'PUBLIC KEY') throw r.fail(path, 'must be a PEM "PUBLIC KEY" block holding an RSA key');
    let type: string | undefined;
    try {
      type = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'spki' }).asymmetricKeyType;
    } catch (cause) {
      throw r.fail(path, 'is not a PEM public key', cause);
    }
    if (type !== 'rsa') throw r.fail(path, 'must be a PEM "PUBLIC KEY" block holding an RSA key');
    if (block.extra) r.warn(path, 'holds more than its first PEM block: only that is read, as in MarbleRun');
    return pem;
  });
}

/**
 * Reads MarbleRun's `Config`, with its checks against the users and recovery keys: enough users
 * who may update the manifest for `UpdateThreshold`, enough recovery keys for
 * `RecoveryThreshold` (which, if set, is at least 2).
 *
 * @example
 * ```ts
 * const config = readConfig(r, { SealMode: 'ProductKey' }, { users, roles, recoveryKeys });
 * ```
 */
export function readConfig(
  r: ManifestReader,
  v: unknown,
  m: { users: Record<string, User>; roles: Record<string, Role>; recoveryKeys: Record<string, string> },
): ManifestConfig {
  const path = 'Config';
  const o = r.object(v, path, FIELDS.Config);
  const config: ManifestConfig = {};
  r.assign(o, path, config, 'SealMode', (x, p) => r.asOneOf(x, p, SEAL_MODES));
  r.assign(o, path, config, 'FeatureGates', (x, p) => r.list(x, p, (e, q) => r.asOneOf(e, q, FEATURE_GATES, true)));
  r.assign(o, path, config, 'RotateRootSecret', (x, p) => r.asBoolean(x, p));
  // Accepted as MarbleRun accepts them; cloister's coordinator has none of these features (docs/marblerun.md).
  if (config.SealMode) r.warn(jsonPath(path, 'SealMode'), "ignored: cloister's store seals its state its own way");
  config.FeatureGates?.forEach((gate, i) =>
    r.warn(jsonPath(jsonPath(path, 'FeatureGates'), i), `${gate} is not implemented by cloister: ignored`),
  );
  if (config.RotateRootSecret) r.warn(jsonPath(path, 'RotateRootSecret'), 'not implemented by cloister: ignored');

  const updaters = Object.values(m.users).filter((u) =>
    u.Roles.some((name) => m.roles[name]?.Actions.includes('UpdateManifest')),
  ).length;
  r.assign(o, path, config, 'UpdateThreshold', (x, p) => {
    const n = r.asInteger(x, p);
    if (n > updaters) throw r.fail(p, `${n} exceeds the number of users allowed to update the manifest (${updaters})`);
    return n;
  });
  const keys = Object.keys(m.recoveryKeys).length;
  r.assign(o, path, config, 'RecoveryThreshold', (x, p) => {
    const n = r.asInteger(x, p);
    if (n === 1) throw r.fail(p, 'if set, must be at least 2');
    if (n > keys) throw r.fail(p, `${n} exceeds the number of recovery keys (${keys})`);
    return n;
  });
  return config;
}
