import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DcapVerifier } from '../../src/attest/index.js';
import { AttestationService, fixedCollateral } from '../../src/attestation-service/index.js';
import { fileStore } from '../../src/store/index.js';
import { rejectsCode } from '../attest/maa/helpers.js';
import { tempDir } from '../e2e/harness.js';

/** The service over its sealed store: keys survive restarts, rotations are serialised, unreadable state stops it. */

const KEY = new Uint8Array(32).fill(3);
const NOW = 1_800_000_000;

function open(dir: string, now = NOW) {
  const dcap = new DcapVerifier();
  return AttestationService.open({
    instance: 'https://attest.example',
    store: fileStore({ dir, key: KEY }),
    dcap,
    collateral: fixedCollateral(dcap, []),
    policy: {},
    policyText: '{}',
    now: () => now,
  });
}

test('keys and the TLS CA survive a restart; concurrent rotations keep every key that signed', async () => {
  const dir = tempDir('maa-service');
  const s = await open(dir);
  const first = s.signingKey.kid;
  const kids = await Promise.all([s.rotate(), s.rotate(), s.rotate()]);
  assert.deepEqual(
    s.jwks().keys.map((k) => k['kid']),
    [...kids].reverse().concat(first),
  );
  assert.equal(s.signingKey.kid, kids[2]);
  const again = await open(dir);
  assert.deepEqual(again.jwks(), s.jwks());
  assert.deepEqual(again.tls, s.tls);
  // Eight hours after those rotations, the next one drops the keys retired then.
  const later = await open(dir, NOW + 8 * 3600);
  const last = await later.rotate();
  assert.deepEqual(
    later.jwks().keys.map((k) => k['kid']),
    [last, kids[2]],
  );
});

test('state that cannot be read is refused and left alone', async () => {
  const dir = tempDir('maa-service');
  await open(dir);
  writeFileSync(join(dir, 'state.sealed'), 'garbage');
  await rejectsCode(open(dir), 'STATE_CORRUPT');
});

test("the instance must be an https origin: the tokens' iss is compared as a string", async () => {
  const dcap = new DcapVerifier();
  for (const instance of ['http://attest.example', 'https://attest.example/', 'https://attest.example/x']) {
    await rejectsCode(
      AttestationService.open({
        instance,
        store: fileStore({ dir: tempDir('maa-service'), key: KEY }),
        dcap,
        collateral: fixedCollateral(dcap, []),
        policy: {},
        policyText: '{}',
        now: () => NOW,
      }),
      'USAGE',
    );
  }
});
