import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DcapVerifier, customRoot } from '../../src/attest/index.js';
import { createSimPlatform } from '../../src/attest/sim/index.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { bindingReportData } from '../../src/protocol/index.js';
import { simEvidence } from '../../src/evidence/sim.js';
import { fileStore, sealingKey } from '../../src/store/index.js';
import { CloisterError } from '../../src/lib/errors.js';
import { tempDir } from '../e2e/harness.js';

/** The coordinator's state machine in process, with the real sealed store and simulated evidence. */

async function setup(maxActivations: number) {
  const now = Date.now() / 1000;
  const platform = await createSimPlatform({ now });
  const mrEnclave = new Uint8Array(32).fill(9);
  const source = simEvidence(platform, { mrEnclave });
  const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
  const collateral = verifier.prepare(await source.collateral());
  const dir = tempDir('coordinator');
  const c = await Coordinator.open({
    store: fileStore({ dir, key: await sealingKey(dir) }),
    own: source,
    verify: async (evidence) => verifier.verify(evidence, { collateral, now: Date.now() / 1000 }),
  });
  await c.setManifest(
    new TextEncoder().encode(
      JSON.stringify({
        Packages: { app: { UniqueID: Buffer.from(mrEnclave).toString('hex'), TEE: 'sim' } },
        Marbles: { app: { Package: 'app', MaxActivations: maxActivations }, db: { Package: 'app' } },
      }),
    ),
  );
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p256 = new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' }));
  const activate = async (i: number, dnsNames?: string[], publicKey = p256) => {
    const nonce = c.nonce();
    const evidence = await source.quote(bindingReportData(publicKey, nonce));
    return c.activate({
      service: 'app',
      instanceId: `i${i}`,
      nonce,
      evidence,
      publicKey,
      ...(dnsNames ? { dnsNames } : {}),
    });
  };
  return { c, activate };
}

test('concurrent activations never exceed MaxActivations', async () => {
  const { activate } = await setup(3);
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => activate(i)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  for (const r of results)
    if (r.status === 'rejected') assert.ok(r.reason instanceof CloisterError && r.reason.code === 'ACTIVATION_REFUSED');
});

test('a nonce is single use, even when the activation fails', async () => {
  const { c } = await setup(0);
  const nonce = c.nonce();
  await assert.rejects(
    c.activate({
      service: 'nobody',
      instanceId: 'x',
      nonce,
      evidence: new Uint8Array(10),
      publicKey: new Uint8Array(10),
    }),
    (e: CloisterError) => e.code === 'ACTIVATION_REFUSED',
  );
  await assert.rejects(
    c.activate({ service: 'app', instanceId: 'x', nonce, evidence: new Uint8Array(10), publicKey: new Uint8Array(10) }),
    (e: CloisterError) => e.code === 'NONCE_INVALID',
  );
});

test("a workload cannot take another service's name as a DNS name, nor one the manifest does not give it", async () => {
  const { activate } = await setup(0);
  await activate(1, ['app', 'app.prod.svc']);
  await assert.rejects(
    activate(2, ['db']),
    (e: CloisterError) => e.code === 'ACTIVATION_REFUSED' && /DNS name "db"/.test(e.message),
  );
  await assert.rejects(
    activate(3, ['app.example.internal']),
    (e: CloisterError) => e.code === 'ACTIVATION_REFUSED' && /may claim/.test(e.message),
  );
});

test('a key the coordinator cannot seal to is refused before it counts against MaxActivations', async () => {
  const { activate } = await setup(1);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
  await assert.rejects(
    activate(1, undefined, new Uint8Array(p384.export({ format: 'der', type: 'spki' }))),
    (e: CloisterError) => e.code === 'REQUEST_INVALID',
  );
  const { response } = await activate(2);
  assert.match(response.certChain, /BEGIN CERTIFICATE/);
});

test('a flood of nonce requests does not stop a legitimate activation', async () => {
  const { c, activate } = await setup(0);
  // More than the 100,000 outstanding nonces that used to refuse every activation for two minutes.
  for (let i = 0; i < 150_000; i++) c.nonce();
  const { response } = await activate(1);
  assert.match(response.certChain, /BEGIN CERTIFICATE/);
});
