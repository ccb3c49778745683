import 'reflect-metadata'; // before @peculiar/x509
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as px from '@peculiar/x509';
import { createCa, generateSecret, issueLeaf, type CaBundle } from '../../src/pki/index.js';
import { DAY, NOW, assertChain, hasOpenssl, opensslVerify, parsed, seconds } from './helpers.js';

/**
 * MarbleRun's `Cert` template (Go x509.Certificate) in the certificates of generated secrets:
 * IsCA with MaxPathLen, KeyUsage bits, ExtKeyUsage values, NotAfter; and the defaults it applies.
 */

describe('generateSecret with a MarbleRun certificate template', () => {
  let ca: CaBundle;
  before(async () => {
    ca = await createCa({ now: NOW });
  });

  it('IsCA: a CA certificate (path length from MaxPathLen) with keyCertSign that signs a leaf which verifies', async (t) => {
    const secret = await generateSecret(
      {
        Type: 'cert-ecdsa',
        Size: 256,
        ValidFor: 30,
        Cert: { Subject: { CommonName: 'sub CA' }, IsCA: true, MaxPathLen: 0 },
      },
      ca,
      NOW,
    );
    const cert = parsed(new Uint8Array(secret.cert as Uint8Array));
    const constraints = cert.getExtension(px.BasicConstraintsExtension);
    assert.equal(constraints?.ca, true);
    assert.equal(constraints?.pathLength, 0);
    const usage = cert.getExtension(px.KeyUsagesExtension)?.usages ?? 0;
    assert.ok(usage & px.KeyUsageFlags.keyCertSign && usage & px.KeyUsageFlags.digitalSignature);
    assertChain(ca, secret.cert as Uint8Array);
    if (!hasOpenssl(t)) return;
    const r = opensslVerify(ca, secret.cert as Uint8Array, ['-purpose', 'any']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('not a CA by default: cA false, no keyCertSign (RFC 5280 §4.2.1.3), serverAuth and clientAuth', async () => {
    const cert = parsed(
      new Uint8Array(
        (await generateSecret({ Type: 'cert-ed25519', Size: 0, ValidFor: 1, Cert: {} }, ca, NOW)).cert as Uint8Array,
      ),
    );
    assert.equal(cert.getExtension(px.BasicConstraintsExtension)?.ca, false);
    assert.equal(cert.getExtension(px.KeyUsagesExtension)?.usages, px.KeyUsageFlags.digitalSignature);
    assert.deepEqual(
      [...(cert.getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [])],
      [px.ExtendedKeyUsage.serverAuth, px.ExtendedKeyUsage.clientAuth],
    );
  });

  it('KeyUsage and ExtKeyUsage as given (Go numbering); [] means no extKeyUsage at all', async () => {
    const signing = parsed(
      new Uint8Array(
        (
          await generateSecret(
            { Type: 'cert-ecdsa', Size: 384, ValidFor: 1, Cert: { KeyUsage: 1 | 2, ExtKeyUsage: [3, 8] } },
            ca,
            NOW,
          )
        ).cert as Uint8Array,
      ),
    );
    assert.equal(
      signing.getExtension(px.KeyUsagesExtension)?.usages,
      px.KeyUsageFlags.digitalSignature | px.KeyUsageFlags.nonRepudiation,
    );
    assert.deepEqual(
      [...(signing.getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [])],
      [px.ExtendedKeyUsage.codeSigning, px.ExtendedKeyUsage.timeStamping],
    );
    const none = parsed(
      new Uint8Array(
        (await generateSecret({ Type: 'cert-ecdsa', Size: 256, ValidFor: 1, Cert: { ExtKeyUsage: [] } }, ca, NOW))
          .cert as Uint8Array,
      ),
    );
    assert.equal(none.getExtension(px.ExtendedKeyUsageExtension), null);
  });

  it("NotAfter is the end of validity (within the intermediate's); one in the past is refused", async () => {
    const cert = parsed(
      new Uint8Array(
        (
          await generateSecret(
            { Type: 'cert-ecdsa', Size: 521, ValidFor: 0, Cert: { NotAfter: NOW + 10 * DAY } },
            ca,
            NOW,
          )
        ).cert as Uint8Array,
      ),
    );
    assert.equal(seconds(cert.notAfter), NOW + 10 * DAY);
    await assert.rejects(
      generateSecret({ Type: 'cert-ecdsa', Size: 224, ValidFor: 0, Cert: { NotAfter: NOW - 1 } }, ca, NOW),
      (e: unknown) => (e as { code?: string }).code === 'PKI_INVALID',
    );
  });

  it('workload identities stay with P-256, P-384, RSA and Ed25519: a P-224 key is refused', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const key = generateKeyPairSync('ec', { namedCurve: 'secp224r1' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    await assert.rejects(
      issueLeaf(ca, { publicKey: new Uint8Array(key), commonName: 'w', now: NOW }),
      (e: unknown) => (e as { code?: string }).code === 'PKI_INVALID',
    );
  });
});
