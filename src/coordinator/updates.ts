import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import type { Manifest, ParsedManifest } from '../manifest/index.js';
import type { SecretValue } from '../pki/index.js';
import type { State } from './state.js';

/**
 * Manifest updates as MarbleRun has them (its "Updating a manifest" documentation): a partial
 * manifest of `Packages.<name>.SecurityVersion` only, applied at once by users with the
 * `UpdateSecurityVersion` role on those packages; or a whole new manifest, proposed by a user with
 * the `UpdateManifest` role and applied when the users who must approve it have acknowledged the
 * same bytes. Pure: the coordinator persists what these return.
 */

const reader = new JsonReader('UPDATE_INVALID', 'update');

/** `{ "Packages": { name: { "SecurityVersion": n } } }`, checked against the enforced manifest. */
export function readSecurityUpdate(current: Manifest, update: unknown): Record<string, number> {
  const o = reader.object(update, 'update', ['Packages']);
  const versions = reader.map(o['Packages'], 'Packages', (v, path, name) => {
    const pkg = current.Packages[name];
    if (!pkg) throw reader.fail(path, `no package "${name}" in the enforced manifest`);
    if (pkg.UniqueID !== undefined)
      throw reader.fail(path, `package "${name}" is pinned by UniqueID: a security version does not apply to it`);
    const entry = reader.object(v, path, ['SecurityVersion']);
    const version = reader.required(entry, path, 'SecurityVersion', (x, p) => reader.asInteger(x, p, 0xffff));
    const now = pkg.SecurityVersion ?? 0;
    if (version < now)
      throw reader.fail(
        `${path}.SecurityVersion`,
        `${version} is lower than the enforced ${now}: a security version never goes down`,
      );
    return version;
  });
  if (Object.keys(versions).length === 0) throw reader.fail('Packages', 'names no package to update');
  return { ...versions };
}

/** The enforced manifest's bytes with the new security versions written in (the rest as it was). */
export function withSecurityVersions(raw: Uint8Array, versions: Record<string, number>): Uint8Array {
  const doc = JSON.parse(Buffer.from(raw).toString('utf8')) as { Packages: Record<string, Record<string, unknown>> };
  for (const [name, version] of Object.entries(versions)) {
    const pkg = doc.Packages[name];
    if (pkg) pkg['SecurityVersion'] = version;
  }
  return new Uint8Array(Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8'));
}

/** Who must acknowledge a full update: the users holding UpdateManifest, and how many of them. */
export function approvers(m: Manifest): { users: string[]; threshold: number } {
  const users = Object.entries(m.Users)
    .filter(([, user]) =>
      user.Roles.some((r) => {
        const role = m.Roles[r];
        return role?.ResourceType === 'Manifest' && role.Actions.some((a) => a.toLowerCase() === 'updatemanifest');
      }),
    )
    .map(([name]) => name);
  const configured = m.Config.UpdateThreshold ?? 0;
  // The manifest's own check keeps UpdateThreshold within the number of such users.
  return { users, threshold: configured > 0 ? configured : users.length };
}

const sameDefinition = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The state after a full update to `next`: secrets whose definition did not change are kept
 * (generated, per instance and user-defined); changed or new ones are generated anew by the
 * coordinator as at `manifest set`; services that are gone lose their activations; volumes keep
 * their keys and files by name.
 */
export function carryOver(
  state: State,
  previous: Manifest,
  next: ParsedManifest,
  fresh: { secrets: Record<string, SecretValue>; volumeKey: () => Uint8Array },
): State {
  const m = next.manifest;
  const kept = (name: string) => sameDefinition(previous.Secrets[name], m.Secrets[name]);
  const keep = (values: Record<string, SecretValue>) =>
    Object.fromEntries(Object.entries(values).filter(([name]) => kept(name)));
  const generated = { ...fresh.secrets, ...keep(state.secrets) };
  const instanceSecrets = Object.fromEntries(
    Object.entries(state.instanceSecrets)
      .filter(([id]) => Object.hasOwn(m.Marbles, id.slice(0, id.lastIndexOf('/'))))
      .map(([id, values]) => [id, keep(values)]),
  );
  const activations = Object.fromEntries(
    Object.entries(state.activations).filter(([service]) => Object.hasOwn(m.Marbles, service)),
  );
  const volumes = Object.fromEntries(
    Object.keys(m.Volumes).map((name) => [name, state.volumes[name] ?? { key: fresh.volumeKey(), files: {} }]),
  );
  const { pendingUpdate: _done, ...rest } = state;
  return {
    ...rest,
    manifest: next.raw,
    secrets: generated,
    instanceSecrets,
    userSecrets: keep(state.userSecrets),
    activations,
    volumes,
  };
}

/** A refusal of an update, naming the rule. */
export function updateRefused(message: string): CloisterError {
  return new CloisterError('UPDATE_INVALID', message);
}
