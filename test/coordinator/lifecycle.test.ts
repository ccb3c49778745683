import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { test } from 'node:test';
import { createSimPlatform } from '../../src/attest/sim/index.js';
import { Coordinator, type CoordinatorOptions } from '../../src/coordinator/coordinator.js';
import { CloisterError } from '../../src/lib/errors.js';
import { simEvidence } from '../../src/run/evidence.js';
import { fileStore, openStateKey, sealingKey } from '../../src/store/index.js';
import { tempDir } from '../e2e/harness.js';

/**
 * The lifecycle in process over the real file store and state key file: the recovery key of
 * manifest set opens the state key; a crash between the state write and the state key file's is
 * mended by the next start; RecoveryKeys without a vault are refused.
 */

const holder = generateKeyPairSync('rsa', { modulusLength: 2048 });
const manifest = new TextEncoder().encode(
  JSON.stringify({
    Packages: { app: { UniqueID: '00'.repeat(32), TEE: 'sim' } },
    Marbles: { app: { Package: 'app' } },
    RecoveryKeys: { alice: holder.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
  }),
);
const decrypt = (b64: string | undefined) =>
  new Uint8Array(
    privateDecrypt(
      { key: holder.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(b64 ?? '', 'base64'),
    ),
  );

async function base(dir: string): Promise<Omit<CoordinatorOptions, 'store'>> {
  const platform = await createSimPlatform({ now: Date.now() / 1000 });
  return {
    own: simEvidence(platform, { mrEnclave: new Uint8Array(32) }),
    verify: () => Promise.reject(new Error(`no activations in ${dir}`)),
  };
}

test('a crash between the sealed state and the state key file is mended at the next start', async () => {
  const dir = tempDir('lifecycle');
  const platformKey = await sealingKey(dir);
  const options = await base(dir);
  const keyring = await openStateKey(dir, platformKey);
  const stateKey = keyring.stateKey as Uint8Array;
  const crashing = {
    recoveryData: keyring.recoveryData,
    setRecovery: () => Promise.reject(new Error('killed before the state key file was written')),
  };
  const first = await Coordinator.open({ store: fileStore({ dir, key: stateKey }), ...options, vault: crashing });
  await assert.rejects(() => first.setManifest(manifest), /killed/);
  assert.equal((await openStateKey(dir, platformKey)).recoveryData, undefined, 'the key file was not written');

  const again = await openStateKey(dir, platformKey);
  const second = await Coordinator.open({ store: fileStore({ dir, key: stateKey }), ...options, vault: again });
  assert.equal(second.status().status, 'AcceptingMarbles', 'the manifest set before the crash is there');
  assert.ok(again.recoveryData, 'mended at start');
  const recoveryKey = decrypt(second.recoverySecrets()['alice']);
  assert.deepEqual((await openStateKey(dir, new Uint8Array(32).fill(1))).unwrap(recoveryKey), stateKey);
  assert.deepEqual(
    second.history().entries.map((e) => e.kind),
    ['manifest-set'],
  );
});

test('RecoveryKeys on a coordinator that keeps no recovery key are refused, and nothing is set', async () => {
  const dir = tempDir('lifecycle');
  const c = await Coordinator.open({ store: fileStore({ dir, key: await sealingKey(dir) }), ...(await base(dir)) });
  await assert.rejects(
    () => c.setManifest(manifest),
    (e) => e instanceof CloisterError && e.code === 'RECOVERY_UNAVAILABLE',
  );
  assert.equal(c.status().status, 'AcceptingManifest');
});
