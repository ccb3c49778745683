import 'reflect-metadata'; // before @peculiar/x509
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import * as px from '@peculiar/x509';
import { createCa, issueLeaf, type CaBundle, type LeafRequest } from '../../src/pki/index.js';
import {
  DAY,
  KEY_TYPES,
  NOW,
  assertChain,
  hasOpenssl,
  opensslText,
  opensslVerify,
  parsed,
  pkiInvalid,
  seconds,
  spkiOf,
} from './helpers.js';

describe('issueLeaf', () => {
  let ca: CaBundle;
  let publicKey: Uint8Array;
  const request = (overrides: Partial<LeafRequest> = {}): LeafRequest => ({
    publicKey,
    commonName: 'backend',
    now: NOW,
    ...overrides,
  });
  before(async () => {
    ca = await createCa({ now: NOW });
    publicKey = spkiOf(KEY_TYPES['P-256']());
  });

  for (const [name, generate] of Object.entries(KEY_TYPES)) {
    it(`certifies a ${name} key: the chain verifies with Node and openssl, with the TLS purposes`, async (t) => {
      const pair = generate();
      const leaf = await issueLeaf(ca, request({ publicKey: spkiOf(pair), dnsNames: ['backend'] }));
      assertChain(ca, leaf);
      assert.ok(new X509Certificate(leaf).publicKey.equals(pair.publicKey));
      const ku = parsed(leaf).getExtension(px.KeyUsagesExtension);
      const rsa = name.startsWith('RSA');
      assert.equal(ku?.usages, px.KeyUsageFlags.digitalSignature | (rsa ? px.KeyUsageFlags.keyEncipherment : 0));
      assert.equal(ku?.critical, true);
      if (!hasOpenssl(t)) return;
      for (const purpose of ['sslserver', 'sslclient']) {
        const r = opensslVerify(ca, leaf, ['-purpose', purpose]);
        assert.equal(r.status, 0, `${purpose}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /leaf\.pem: OK/);
      }
    });
  }

  it('puts DNS and IP (v4, v6, v4-in-v6) names in the subjectAltName, not critical', async (t) => {
    const leaf = await issueLeaf(
      ca,
      request({
        dnsNames: ['backend', '*.backend.svc.cluster.local', 'my_service'],
        ipAddresses: ['10.1.2.3', '::1', '2001:db8::42', '::ffff:192.0.2.1'],
      }),
    );
    assert.equal(
      new X509Certificate(leaf).subjectAltName,
      'DNS:backend, DNS:*.backend.svc.cluster.local, DNS:my_service, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:42, IP Address:0:0:0:0:0:FFFF:C000:201',
    );
    assert.equal(parsed(leaf).getExtension(px.SubjectAlternativeNameExtension)?.critical, false);
    assert.equal(new X509Certificate(leaf).subject, 'CN=backend');
    if (!hasOpenssl(t)) return;
    assert.match(
      opensslText(leaf),
      /X509v3 Subject Alternative Name: \n\s+DNS:backend, DNS:\*\.backend\.svc\.cluster\.local, DNS:my_service, IP Address:10\.1\.2\.3, IP Address:0:0:0:0:0:0:0:1/,
    );
    assert.notEqual(
      opensslVerify(ca, leaf, ['-verify_ip', '192.0.2.1']).status,
      0,
      'openssl reads the mapped address as IPv6, not IPv4',
    );
    assert.equal(opensslVerify(ca, leaf, ['-verify_hostname', 'x.backend.svc.cluster.local']).status, 0);
    assert.equal(opensslVerify(ca, leaf, ['-verify_ip', '10.1.2.3']).status, 0);
    assert.notEqual(opensslVerify(ca, leaf, ['-verify_hostname', 'frontend']).status, 0);
  });

  it('makes an end-entity certificate: not a CA, serverAuth and clientAuth by default, SKI and AKI', async (t) => {
    const leaf = parsed(await issueLeaf(ca, request()));
    const bc = leaf.getExtension(px.BasicConstraintsExtension);
    assert.deepEqual([bc?.ca, bc?.critical], [false, true]);
    assert.deepEqual(
      [...(leaf.getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [])],
      [px.ExtendedKeyUsage.serverAuth, px.ExtendedKeyUsage.clientAuth],
    );
    assert.equal(
      leaf.getExtension(px.AuthorityKeyIdentifierExtension)?.keyId,
      parsed(ca.intermediateCert).getExtension(px.SubjectKeyIdentifierExtension)?.keyId,
    );
    assert.match(leaf.getExtension(px.SubjectKeyIdentifierExtension)?.keyId ?? '', /^[0-9a-f]{40}$/);
    assert.equal(leaf.getExtension(px.SubjectAlternativeNameExtension), null, 'no names, no SAN');
    assert.equal(new X509Certificate(new Uint8Array(leaf.rawData as ArrayBuffer)).ca, false);
    if (!hasOpenssl(t)) return;
    assert.match(opensslText(new Uint8Array(leaf.rawData as ArrayBuffer)), /Signature Algorithm: ecdsa-with-SHA256/);
  });

  it('limits the purposes when asked, and refuses neither', async (t) => {
    const server = await issueLeaf(ca, request({ clientAuth: false }));
    const client = await issueLeaf(ca, request({ serverAuth: false }));
    assert.deepEqual(
      [...(parsed(server).getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [])],
      [px.ExtendedKeyUsage.serverAuth],
    );
    assert.deepEqual(
      [...(parsed(client).getExtension(px.ExtendedKeyUsageExtension)?.usages ?? [])],
      [px.ExtendedKeyUsage.clientAuth],
    );
    await assert.rejects(issueLeaf(ca, request({ serverAuth: false, clientAuth: false })), pkiInvalid('serverAuth'));
    if (!hasOpenssl(t)) return;
    assert.notEqual(opensslVerify(ca, server, ['-purpose', 'sslclient']).status, 0);
    assert.notEqual(opensslVerify(ca, client, ['-purpose', 'sslserver']).status, 0);
  });

  it('is valid from an hour before now for validDays (365 by default), never beyond the intermediate', async (t) => {
    const validity = (der: Uint8Array) => [seconds(parsed(der).notBefore), seconds(parsed(der).notAfter)];
    assert.deepEqual(validity(await issueLeaf(ca, request({ now: NOW + 0.75 }))), [NOW - 3600, NOW + 365 * DAY]);
    assert.deepEqual(validity(await issueLeaf(ca, request({ validDays: 7 }))), [NOW - 3600, NOW + 7 * DAY]);
    const long = await issueLeaf(ca, request({ validDays: 100_000 }));
    assert.deepEqual(validity(long), [NOW - 3600, seconds(parsed(ca.intermediateCert).notAfter)]);
    await assert.rejects(
      issueLeaf(ca, request({ now: NOW + 6 * 365 * DAY })),
      pkiInvalid('now'),
      'the intermediate has expired',
    );
    if (!hasOpenssl(t)) return;
    assert.notEqual(
      opensslVerify(ca, await issueLeaf(ca, request({ validDays: 1 })), [], NOW + 2 * DAY).status,
      0,
      'expired',
    );
    assert.notEqual(opensslVerify(ca, await issueLeaf(ca, request()), [], NOW - 2 * 3600).status, 0, 'not yet valid');
  });

  it('gives every certificate its own serial number', async () => {
    const serials = await Promise.all(
      Array.from({ length: 20 }, async () => new X509Certificate(await issueLeaf(ca, request())).serialNumber),
    );
    assert.equal(new Set(serials).size, 20);
  });

  it('refuses a malformed or disallowed public key with PKI_INVALID', async () => {
    const rsa1024 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }));
    const bad: [string, unknown][] = [
      ['empty', new Uint8Array()],
      ['random bytes', new Uint8Array(91).fill(7)],
      ['truncated', publicKey.subarray(0, publicKey.length - 1)],
      ['trailing byte', new Uint8Array([...publicKey, 0])],
      ['a point off the curve', Uint8Array.from(publicKey, (b, i) => (i === publicKey.length - 1 ? b ^ 1 : b))],
      [
        'PEM text',
        new TextEncoder().encode(
          createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' })
            .export({ format: 'pem', type: 'spki' })
            .toString(),
        ),
      ],
      ['RSA 1024', rsa1024],
      ['secp256k1', spkiOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }))],
      ['P-521', spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }))],
      ['X25519', spkiOf(generateKeyPairSync('x25519'))],
      ['RSA-PSS', spkiOf(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }))],
      ['not bytes', 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE'],
    ];
    for (const [what, key] of bad)
      await assert.rejects(issueLeaf(ca, request({ publicKey: key as Uint8Array })), pkiInvalid('publicKey'), what);
  });

  it('property: arbitrary bytes, or the key cut short and extended, only ever give PKI_INVALID', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }),
          fc
            .tuple(fc.nat({ max: publicKey.length }), fc.uint8Array({ maxLength: 4 }))
            .map(([cut, tail]) => new Uint8Array([...publicKey.subarray(0, cut), ...tail]))
            .filter((key) => Buffer.compare(key, publicKey) !== 0),
        ),
        async (key) => {
          await assert.rejects(issueLeaf(ca, request({ publicKey: key })), pkiInvalid('publicKey'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses malformed names, times and lifetimes, naming the field', async () => {
    const cases: [Partial<LeafRequest>, string][] = [
      [{ commonName: '' }, 'commonName'],
      [{ dnsNames: ['ok', 'bad name'] }, 'dnsNames[1]'],
      [{ dnsNames: ['a..b'] }, 'dnsNames[0]'],
      [{ dnsNames: ['-lead'] }, 'dnsNames[0]'],
      [{ dnsNames: ['*'] }, 'dnsNames[0]'],
      [{ dnsNames: ['a.*.b'] }, 'dnsNames[0]'],
      [{ dnsNames: ['é.example'] }, 'dnsNames[0]'],
      [{ dnsNames: [`${'a'.repeat(64)}.example`] }, 'dnsNames[0]'],
      [{ dnsNames: 'backend' as unknown as string[] }, 'dnsNames'],
      [{ ipAddresses: ['256.1.1.1'] }, 'ipAddresses[0]'],
      [{ ipAddresses: ['127.0.0.1', 'localhost'] }, 'ipAddresses[1]'],
      [{ ipAddresses: ['fe80::1%eth0'] }, 'ipAddresses[0]'],
      [{ ipAddresses: ['10.0.0.0/8'] }, 'ipAddresses[0]'],
      [{ now: Number.NaN }, 'now'],
      [{ now: -5 }, 'now'],
      [{ validDays: 0 }, 'validDays'],
      [{ validDays: 1.5 }, 'validDays'],
      [{ serverAuth: 'yes' as unknown as boolean }, 'serverAuth'],
    ];
    for (const [overrides, field] of cases)
      await assert.rejects(issueLeaf(ca, request(overrides)), pkiInvalid(field), JSON.stringify(overrides));
  });

  it('refuses a malformed CA bundle, and notices when a bundle object is changed after use', async () => {
    await assert.rejects(
      issueLeaf({ ...ca, intermediateCert: new Uint8Array([0x30, 0x03, 1, 2, 3]) }, request()),
      pkiInvalid('intermediateCert'),
    );
    await assert.rejects(
      issueLeaf({ ...ca, intermediateKey: new Uint8Array(10) }, request()),
      pkiInvalid('intermediateKey'),
    );
    await assert.rejects(issueLeaf({ ...ca, intermediateKey: ca.rootKey }, request()), pkiInvalid('intermediateKey'));
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
    await assert.rejects(
      issueLeaf({ ...ca, intermediateKey: new Uint8Array(ed) }, request()),
      pkiInvalid('intermediateKey'),
    );

    const copy: CaBundle = JSON.parse(
      JSON.stringify(ca, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)),
      (k, v: unknown) => (typeof v === 'string' && k !== '' ? new Uint8Array(Buffer.from(v, 'base64')) : v),
    ) as CaBundle;
    assertChain(ca, await issueLeaf(copy, request()));
    copy.intermediateKey = ca.rootKey;
    await assert.rejects(
      issueLeaf(copy, request()),
      pkiInvalid('intermediateKey'),
      'the cached signer is not reused for changed bytes',
    );
  });
});
