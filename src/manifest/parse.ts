import { createHash } from 'node:crypto';
import { FIELDS } from './fields.js';
import type { JsonReader } from '../lib/json.js';
import { ManifestReader } from './lib/go-json.js';
import { readRoles, readUsers } from './sections/access.js';
import { readConfig, readRecoveryKeys } from './sections/config.js';
import { readMarbles } from './sections/marbles.js';
import { checkPackages, marblePackages, readInfrastructures, readPackages } from './sections/packages.js';
import { readSecrets } from './sections/secrets.js';
import { readTls } from './sections/tls.js';
import { checkVolumeServices, readVolumes } from './sections/volumes.js';
import type { ParsedManifest } from './types.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bytesOf(r: JsonReader, input: unknown): Uint8Array {
  if (typeof input === 'string') return new TextEncoder().encode(input);
  if (input instanceof Uint8Array) return input.slice();
  throw r.fail('', 'a manifest is given as bytes or a string');
}

function jsonOf(r: JsonReader, raw: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch (cause) {
    throw r.fail('', 'not valid UTF-8', cause);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw r.fail('', `not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`, cause);
  }
}

/**
 * Parses and validates a manifest as MarbleRun does (its Go types decoded by `encoding/json`,
 * `Manifest.Check`, secret generation and `TemplateDryRun`; see lib/go-json.ts and
 * docs/marblerun.md), with cloister's TEE reference values and volumes. What MarbleRun accepts
 * but cloister ignores or cannot honour is accepted and listed in `warnings`. The fingerprint is the SHA-256 of the exact bytes (a string is taken as its
 * UTF-8 bytes), so any change, even in whitespace, changes it.
 *
 * @throws CloisterError `MANIFEST_INVALID`, with `path` the JSON path of the offending value
 *   (`$` for the document itself).
 *
 * @example
 * ```ts
 * const { manifest, fingerprint } = parseManifest(readFileSync('manifest.json'));
 * console.log(fingerprint, Object.keys(manifest.Marbles));
 * ```
 */
export function parseManifest(input: Uint8Array | string): ParsedManifest {
  const r = new ManifestReader();
  const raw = bytesOf(r, input);
  const o = r.object(jsonOf(r, raw), '', FIELDS.Manifest);
  const section = (key: (typeof FIELDS.Manifest)[number]): unknown => (Object.hasOwn(o, key) ? o[key] : {});

  // MarbleRun's Check order: packages, Marbles, the packages Marbles use, then the other sections.
  const packages = readPackages(r, section('Packages'));
  const used = marblePackages(section('Marbles'));
  if (used.size === 0) throw r.fail('Marbles', 'must define at least one marble');
  checkPackages(r, packages, used);
  readInfrastructures(r, section('Infrastructures'));
  const secrets = readSecrets(r, section('Secrets'));
  const volumes = readVolumes(r, section('Volumes'));
  const roles = readRoles(r, section('Roles'), packages, secrets, volumes);
  const users = readUsers(r, section('Users'), roles);
  const recoveryKeys = readRecoveryKeys(r, section('RecoveryKeys'));
  const tls = readTls(r, section('TLS'), secrets);
  const marbles = readMarbles(r, section('Marbles'), { packages, secrets, tls });
  const config = readConfig(r, section('Config'), { users, roles, recoveryKeys });
  checkVolumeServices(r, volumes, marbles);
  return {
    manifest: {
      Packages: packages,
      Marbles: marbles,
      Secrets: secrets,
      Users: users,
      Roles: roles,
      RecoveryKeys: recoveryKeys,
      TLS: tls,
      Config: config,
      Volumes: volumes,
    },
    fingerprint: createHash('sha256').update(raw).digest('hex'),
    raw,
    warnings: r.warnings,
  };
}
