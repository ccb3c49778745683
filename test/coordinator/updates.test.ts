import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloisterError } from '../../src/lib/errors.js';
import { parseManifest } from '../../src/manifest/index.js';
import { createCa } from '../../src/pki/index.js';
import { approvers, carryOver, readSecurityUpdate } from '../../src/coordinator/updates.js';
import type { State } from '../../src/coordinator/state.js';
import { userCert } from '../e2e/users.js';

/** What a full update keeps, regenerates and drops; who must approve; what a security update may say. */

const pkg = { UniqueID: 'ab'.repeat(32), TEE: 'sim' };
const parse = (m: object) => parseManifest(new TextEncoder().encode(JSON.stringify(m)));
const previous = parse({
  Packages: { app: pkg },
  Marbles: { api: { Package: 'app' }, gone: { Package: 'app' } },
  Secrets: {
    same: { Type: 'symmetric-key', Size: 128, Shared: true },
    resized: { Type: 'symmetric-key', Size: 128, Shared: true },
    own: { Type: 'symmetric-key', Size: 128 },
  },
  Volumes: { data: { Mode: 'read-write', Services: ['api'], Sealed: 'd.sealed', Path: 'd' } },
}).manifest;

test('a full update keeps unchanged secrets and volumes, regenerates changed ones, drops what is gone', async () => {
  const key = (n: number) => ({ type: 'symmetric-key' as const, key: new Uint8Array(16).fill(n) });
  const state: State = {
    version: 1,
    ca: await createCa({ now: 1_800_000_000 }),
    manifest: new Uint8Array(),
    secrets: { same: key(1), resized: key(2) },
    instanceSecrets: { 'api/i1': { own: key(3) }, 'gone/i2': { own: key(4) } },
    userSecrets: {},
    activations: { api: 2, gone: 1 },
    volumes: { data: { key: new Uint8Array(32).fill(5), files: { a: { version: 2, root: '00'.repeat(32) } } } },
    pendingUpdate: { manifest: new Uint8Array([1]), acknowledged: ['x'] },
    previousSecrets: {},
    history: [],
  };
  const next = parse({
    Packages: { app: pkg },
    Marbles: { api: { Package: 'app' } },
    Secrets: {
      same: { Type: 'symmetric-key', Size: 128, Shared: true },
      resized: { Type: 'symmetric-key', Size: 256, Shared: true },
      own: { Type: 'symmetric-key', Size: 128 },
    },
    Volumes: {
      data: { Mode: 'read-write', Services: ['api'], Sealed: 'd.sealed', Path: 'd' },
      logs: { Mode: 'read-write', Services: ['api'], Sealed: 'l.sealed', Path: 'l' },
    },
  });
  const after = carryOver(state, previous, next, {
    secrets: { resized: key(9) },
    volumeKey: () => new Uint8Array(32).fill(7),
  });
  assert.deepEqual(after.secrets, { same: key(1), resized: key(9) });
  assert.deepEqual(after.instanceSecrets, { 'api/i1': { own: key(3) } });
  assert.deepEqual(after.activations, { api: 2 });
  assert.deepEqual(after.volumes['data'], state.volumes['data']);
  assert.deepEqual(after.volumes['logs'], { key: new Uint8Array(32).fill(7), files: {} });
  assert.equal(after.pendingUpdate, undefined);
  assert.equal(after.manifest, next.raw);
});

test('approval: every UpdateManifest user, or Config.UpdateThreshold of them', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => userCert(name)));
  const withUsers = (config: object) =>
    parse({
      Packages: { app: pkg },
      Marbles: { api: { Package: 'app' } },
      Users: {
        a: { Certificate: a?.cert, Roles: ['up'] },
        b: { Certificate: b?.cert, Roles: ['up', 'patch'] },
        c: { Certificate: c?.cert, Roles: ['patch'] },
      },
      Roles: {
        up: { ResourceType: 'Manifest', Actions: ['updatemanifest'] },
        patch: { ResourceType: 'Packages', ResourceNames: ['app'], Actions: ['UpdateSecurityVersion'] },
      },
      ...config,
    }).manifest;
  assert.deepEqual(approvers(withUsers({})), { users: ['a', 'b'], threshold: 2 });
  assert.deepEqual(approvers(withUsers({ Config: { UpdateThreshold: 1 } })), { users: ['a', 'b'], threshold: 1 });
});

test('a security update names only known packages, only SecurityVersion, never lower', () => {
  const signed = { SignerID: 'cd'.repeat(32), ProductID: 1, SecurityVersion: 3, TEE: 'sim' };
  const withVersion = parse({ Packages: { app: signed, pinned: pkg }, Marbles: { api: { Package: 'app' } } });
  assert.deepEqual(readSecurityUpdate(withVersion.manifest, { Packages: { app: { SecurityVersion: 4 } } }), { app: 4 });
  assert.deepEqual(readSecurityUpdate(withVersion.manifest, { Packages: { app: { SecurityVersion: 3 } } }), { app: 3 });
  for (const bad of [
    { Packages: { app: { SecurityVersion: 2 } } },
    { Packages: { db: { SecurityVersion: 4 } } },
    { Packages: { pinned: { SecurityVersion: 4 } } },
    { Packages: { app: { SecurityVersion: 4, Debug: true } } },
    { Packages: { app: {} } },
    { Packages: {} },
    { Packages: { app: { SecurityVersion: 4 } }, Users: {} },
    [],
  ])
    assert.throws(
      () => readSecurityUpdate(withVersion.manifest, bad),
      (e) => e instanceof CloisterError && e.code === 'UPDATE_INVALID',
      JSON.stringify(bad),
    );
});
