import 'reflect-metadata'; // before @peculiar/x509
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import * as px from '@peculiar/x509';
import { createCa, generateSecret, type CaBundle, type SecretRequest, type SecretValue } from '../../src/pki/index.js';
import { DAY, NOW, assertChain, hasOpenssl, opensslVerify, parsed, pkiInvalid, seconds } from './helpers.js';

/** The key and certificate of a generated certificate secret, checked for consistency. */
function certParts(secret: SecretValue) {
  assert.ok(secret.cert && secret.private && secret.public, 'cert, private and public are set');
  assert.equal(secret.key, undefined);
  const privateKey = createPrivateKey({ key: Buffer.from(secret.private), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.from(secret.public), format: 'der', type: 'spki' });
  assert.ok(createPublicKey(privateKey).equals(publicKey), 'public belongs to private');
  const cert = new X509Certificate(secret.cert);
  assert.ok(cert.publicKey.equals(publicKey), 'the certificate certifies public');
  return { privateKey, cert };
}

describe('generateSecret', () => {
  let ca: CaBundle;
  before(async () => {
    ca = await createCa({ now: NOW });
  });

  it('symmetric-key: Size/8 random bytes, nothing else', async () => {
    for (const size of [8, 128, 256, 512, 4096]) {
      const [a, b] = [
        await generateSecret({ Type: 'symmetric-key', Size: size, ValidFor: 0 }, ca, NOW),
        await generateSecret({ Type: 'symmetric-key', Size: size, ValidFor: 0 }, ca, NOW),
      ];
      assert.deepEqual(Object.keys(a).sort(), ['key', 'type']);
      assert.equal(a.type, 'symmetric-key');
      assert.equal(a.key?.length, size / 8);
      if (size >= 128) assert.notDeepEqual(a.key, b.key);
    }
    for (const size of [0, 7, 12, -8, 1.5, 65_544, Number.NaN]) {
      await assert.rejects(
        generateSecret({ Type: 'symmetric-key', Size: size, ValidFor: 0 }, ca, NOW),
        pkiInvalid('Size'),
        String(size),
      );
    }
  });

  const certCases: [SecretRequest['Type'], number, string, Record<string, unknown>][] = [
    ['cert-ecdsa', 256, 'ec', { namedCurve: 'prime256v1' }],
    ['cert-ecdsa', 384, 'ec', { namedCurve: 'secp384r1' }],
    ['cert-ecdsa', 224, 'ec', { namedCurve: 'secp224r1' }],
    ['cert-ecdsa', 521, 'ec', { namedCurve: 'secp521r1' }],
    ['cert-ed25519', 0, 'ed25519', {}],
    ['cert-rsa', 2048, 'rsa', { modulusLength: 2048, publicExponent: 65537n }],
    ['cert-rsa', 3072, 'rsa', { modulusLength: 3072, publicExponent: 65537n }],
  ];
  for (const [type, size, keyType, details] of certCases) {
    it(`${type} ${size}: a ${keyType} key pair and a certificate from the intermediate`, async (t) => {
      const secret = await generateSecret(
        { Type: type, Size: size, ValidFor: 30, Cert: { Subject: { CommonName: 'db' }, DNSNames: ['db'] } },
        ca,
        NOW,
      );
      assert.equal(secret.type, type);
      const { privateKey, cert } = certParts(secret);
      assert.equal(privateKey.asymmetricKeyType, keyType);
      assert.deepEqual(privateKey.asymmetricKeyDetails, details);
      assertChain(ca, secret.cert as Uint8Array);
      assert.equal(cert.ca, false);
      assert.deepEqual(
        [seconds(parsed(cert.raw).notBefore), seconds(parsed(cert.raw).notAfter)],
        [NOW - 3600, NOW + 30 * DAY],
      );
      if (!hasOpenssl(t)) return;
      const r = opensslVerify(ca, secret.cert as Uint8Array, ['-purpose', 'sslserver']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }

  it('writes the whole subject (Go crypto/x509 order) and the SANs', async () => {
    const secret = await generateSecret(
      {
        Type: 'cert-ecdsa',
        Size: 256,
        ValidFor: 1,
        Cert: {
          Subject: {
            CommonName: 'db.internal',
            Organization: ['Acme, Inc.', 'Ünïcode GmbH'],
            OrganizationalUnit: ['Ops'],
            Country: ['DE'],
            Province: ['Bayern'],
            Locality: ['München'],
          },
          DNSNames: ['db.internal', 'db'],
          IPAddresses: ['10.0.0.7', 'fd00::7'],
        },
      },
      ca,
      NOW,
    );
    const cert = new X509Certificate(secret.cert as Uint8Array);
    assert.equal(cert.subjectAltName, 'DNS:db.internal, DNS:db, IP Address:10.0.0.7, IP Address:FD00:0:0:0:0:0:0:7');
    assert.deepEqual(parsed(cert.raw).subjectName.toJSON(), [
      { C: ['DE'] },
      { ST: ['Bayern'] },
      { L: ['München'] },
      // Go writes a list as one multi-valued RDN (pkix.Name.ToRDNSequence).
      { O: ['Acme, Inc.', 'Ünïcode GmbH'] },
      { OU: ['Ops'] },
      { CN: ['db.internal'] },
    ]);
    const usages = parsed(cert.raw).getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [];
    assert.deepEqual([...usages], [px.ExtendedKeyUsage.serverAuth, px.ExtendedKeyUsage.clientAuth]);
  });

  it('fills in what a MarbleRun manifest leaves out: localhost, 127.0.0.1, ::1, CN from a single DNS name, 365 days', async () => {
    const bare = certParts(await generateSecret({ Type: 'cert-ed25519', Size: 0, ValidFor: 0 }, ca, NOW)).cert;
    assert.equal(bare.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(bare.subject, 'CN=localhost');
    assert.equal(seconds(parsed(bare.raw).notAfter), NOW + 365 * DAY);
    const two = certParts(
      await generateSecret(
        { Type: 'cert-ed25519', Size: 0, ValidFor: 2, Cert: { DNSNames: ['a', 'b'], IPAddresses: [] } },
        ca,
        NOW,
      ),
    ).cert;
    assert.equal(two.subject, 'CN=cloister Generated Certificate');
    assert.equal(two.subjectAltName, 'DNS:a, DNS:b');
    const none = certParts(
      await generateSecret(
        {
          Type: 'cert-ed25519',
          Size: 0,
          ValidFor: 2,
          Cert: { Subject: { Organization: ['Acme'] }, DNSNames: [], IPAddresses: [] },
        },
        ca,
        NOW,
      ),
    ).cert;
    assert.equal(none.subject, 'O=Acme\nCN=cloister Generated Certificate');
    assert.equal(none.subjectAltName, undefined);
  });

  it('never generates plain secrets, and refuses unknown types and sizes with PKI_INVALID', async () => {
    const cases: [SecretRequest, string][] = [
      [{ Type: 'plain', Size: 0, ValidFor: 0 }, 'Type'],
      [{ Type: 'cert-dsa' as SecretRequest['Type'], Size: 2048, ValidFor: 0 }, 'Type'],
      [{ Type: 'toString' as SecretRequest['Type'], Size: 2048, ValidFor: 0 }, 'Type'],
      [{ Type: 'cert-ecdsa', Size: 0, ValidFor: 0 }, 'Size'],
      [{ Type: 'cert-ecdsa', Size: 512, ValidFor: 0 }, 'Size'],
      [{ Type: 'cert-rsa', Size: 1024, ValidFor: 0 }, 'Size'],
      [{ Type: 'cert-rsa', Size: 16_384, ValidFor: 0 }, 'Size'],
      [{ Type: 'cert-ed25519', Size: 128, ValidFor: 0 }, 'Size'],
      [{ Type: 'cert-ecdsa', Size: 256, ValidFor: -1 }, 'ValidFor'],
      [
        { Type: 'cert-ecdsa', Size: 256, ValidFor: 0, Cert: { Subject: { Country: ['DEU'] } } },
        'Cert.Subject.Country[0]',
      ],
      [
        { Type: 'cert-ecdsa', Size: 256, ValidFor: 0, Cert: { Subject: { Organization: [''] } } },
        'Cert.Subject.Organization[0]',
      ],
      [{ Type: 'cert-ecdsa', Size: 256, ValidFor: 0, Cert: { DNSNames: ['ok', 'not ok'] } }, 'Cert.DNSNames[1]'],
      [{ Type: 'cert-ecdsa', Size: 256, ValidFor: 0, Cert: { IPAddresses: ['1.2.3'] } }, 'Cert.IPAddresses[0]'],
    ];
    for (const [request, field] of cases)
      await assert.rejects(generateSecret(request, ca, NOW), pkiInvalid(field), JSON.stringify(request));
    await assert.rejects(
      generateSecret({ Type: 'cert-ecdsa', Size: 256, ValidFor: 1 }, ca, Number.NaN),
      pkiInvalid('now'),
    );
  });
});
