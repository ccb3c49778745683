import { X509Certificate } from 'node:crypto';
import { hex } from '../../lib/bytes.js';
import { FIELDS } from '../fields.js';
import { firstPemBlock } from '../lib/pem.js';
import type { ManifestReader } from '../lib/go-json.js';
import type { Package, ResourceType, Role, RoleAction, SecretSpec, User, Volume } from '../types.js';

/**
 * MarbleRun "Roles": each resource type, the actions it allows, and the section its
 * `ResourceNames` name (none for `Manifest`, which takes no names).
 *
 * @example
 * ```ts
 * ROLE_RESOURCES.Secrets.actions;   // ['ReadSecret', 'WriteSecret']
 * ```
 */
export const ROLE_RESOURCES = {
  Packages: { actions: ['UpdateSecurityVersion'], names: 'Packages' },
  Secrets: { actions: ['ReadSecret', 'WriteSecret'], names: 'Secrets' },
  Manifest: { actions: ['UpdateManifest'], names: undefined },
  // cloister: who may seal a volume (get its key, register its files) and open it outside a service;
  // ResealVolume: replace the files of a read-write volume that services have committed to.
  Volumes: { actions: ['SealVolume', 'OpenVolume', 'ResealVolume'], names: 'Volumes' },
} as const satisfies Record<
  ResourceType,
  { actions: readonly RoleAction[]; names: 'Packages' | 'Secrets' | 'Volumes' | undefined }
>;

const RESOURCE_TYPES = Object.keys(ROLE_RESOURCES) as ResourceType[];

/** MarbleRun's checks of secret permissions: which secrets each action may name. */
const SECRET_ACTIONS: Partial<Record<RoleAction, { allowed: (s: SecretSpec) => boolean; why: string }>> = {
  WriteSecret: { allowed: (s) => s.UserDefined, why: 'is not user-defined, so no one can write it' },
  ReadSecret: {
    allowed: (s) => s.Shared || s.UserDefined,
    why: 'is unique per Marble (neither Shared nor UserDefined), so no one can read it',
  },
};

function readRole(
  r: ManifestReader,
  v: unknown,
  path: string,
  sections: { Packages: Record<string, Package>; Secrets: Record<string, SecretSpec>; Volumes: Record<string, Volume> },
): Role {
  const o = r.object(v, path, FIELDS.Role);
  const type = r.required(o, path, 'ResourceType', (x, p) => r.asOneOf(x, p, RESOURCE_TYPES));
  const row = ROLE_RESOURCES[type];
  // MarbleRun compares actions case-insensitively.
  const actions =
    r.optional(o, path, 'Actions', (x, p) => r.list(x, p, (e, q) => r.asOneOf<RoleAction>(e, q, row.actions, true))) ??
    [];
  const names = r.optional(o, path, 'ResourceNames', (x, p) =>
    r.list(x, p, (e, q) => {
      if (row.names === undefined) throw r.fail(q, `ResourceType ${type} takes no resource names`);
      const name = r.asEntry(
        e,
        q,
        sections[row.names],
        { Packages: 'package', Secrets: 'secret', Volumes: 'volume' }[row.names],
      );
      const secret = row.names === 'Secrets' ? sections.Secrets[name] : undefined;
      for (const action of actions) {
        const rule = SECRET_ACTIONS[action];
        if (secret && rule && !rule.allowed(secret)) throw r.fail(q, `${action}: secret "${name}" ${rule.why}`);
      }
      return name;
    }),
  );
  return { ResourceType: type, ResourceNames: names ?? [], Actions: actions };
}

/**
 * Reads MarbleRun's `Roles` section against the packages and secrets it names.
 *
 * @example
 * ```ts
 * const roles = readRoles(r, { admin: { ResourceType: 'Secrets', ResourceNames: ['dbPassword'], Actions: ['ReadSecret', 'WriteSecret'] } }, packages, secrets);
 * ```
 */
export function readRoles(
  r: ManifestReader,
  v: unknown,
  packages: Record<string, Package>,
  secrets: Record<string, SecretSpec>,
  volumes: Record<string, Volume> = {},
): Record<string, Role> {
  return r.map(v, 'Roles', (x, p) => readRole(r, x, p, { Packages: packages, Secrets: secrets, Volumes: volumes }));
}

/**
 * The DER of a user's certificate as MarbleRun reads it (`GenerateUsers`: Go's `pem.Decode`, then
 * `x509.ParseCertificate`): the first PEM block, wherever it starts; text around it and further
 * blocks are ignored, and reported.
 */
function userCertificate(r: ManifestReader, v: unknown, path: string): { pem: string; der: Uint8Array } {
  const pem = r.asString(v, path);
  // MarbleRun: "manifest does not contain a certificate for user".
  if (pem === '') throw r.fail(path, 'is required (a PEM certificate)');
  const block = firstPemBlock(pem);
  // MarbleRun: "received invalid certificate for user".
  if (!block) throw r.fail(path, 'must be a PEM certificate (no PEM block found)');
  const { der } = block;
  try {
    // Any signature algorithm: MarbleRun's docs create user certificates with RSA.
    new X509Certificate(der);
  } catch (cause) {
    throw r.fail(path, 'must be a PEM certificate (its first PEM block is no X.509 certificate)', cause);
  }
  if (block.label !== 'CERTIFICATE')
    r.warn(path, `its PEM block is "${block.label}", read as a certificate (as MarbleRun does)`);
  if (block.extra) r.warn(path, "holds more than its first PEM block: only that is the user's, as in MarbleRun");
  return { pem, der };
}

/**
 * Reads MarbleRun's `Users` section: one certificate each, no certificate shared by two users,
 * roles that exist.
 *
 * @example
 * ```ts
 * const users = readUsers(r, { alice: { Certificate: pem, Roles: ['admin'] } }, roles);
 * ```
 */
export function readUsers(r: ManifestReader, v: unknown, roles: Record<string, Role>): Record<string, User> {
  const seen = new Map<string, string>();
  return r.map(v, 'Users', (x, path, name) => {
    const o = r.object(x, path, FIELDS.User);
    const cert = r.required(o, path, 'Certificate', (c, p) => {
      const { pem, der } = userCertificate(r, c, p);
      const other = seen.get(hex(der));
      if (other !== undefined) throw r.fail(p, `the same certificate as user "${other}"`);
      seen.set(hex(der), name);
      return pem;
    });
    return {
      Certificate: cert,
      Roles: r.optional(o, path, 'Roles', (c, p) => r.list(c, p, (e, q) => r.asEntry(e, q, roles, 'role'))) ?? [],
    };
  });
}
