import 'reflect-metadata'; // before @peculiar/x509
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import * as px from '@peculiar/x509';
import { createCa, type CaBundle } from '../../src/pki/index.js';
import { NOW, hasOpenssl, opensslText, parsed, pkiInvalid, seconds } from './helpers.js';

const YEAR_10 = Date.UTC(2035, 5, 15, 14, 6, 40) / 1000; // NOW - 1 h + 10 calendar years
const YEAR_5 = Date.UTC(2030, 5, 15, 14, 6, 40) / 1000;

describe('createCa', () => {
  let ca: CaBundle;
  before(async () => {
    ca = await createCa({ now: NOW });
  });

  it('names the root and intermediate after "cloister" by default', () => {
    assert.equal(new X509Certificate(ca.rootCert).subject, 'CN=cloister Root CA');
    assert.equal(new X509Certificate(ca.rootCert).issuer, 'CN=cloister Root CA');
    assert.equal(new X509Certificate(ca.intermediateCert).subject, 'CN=cloister Intermediate CA');
    assert.equal(new X509Certificate(ca.intermediateCert).issuer, 'CN=cloister Root CA');
  });

  it('self-signs the root and signs the intermediate with it (Node and openssl)', (t) => {
    const [root, intermediate] = [new X509Certificate(ca.rootCert), new X509Certificate(ca.intermediateCert)];
    assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey));
    if (!hasOpenssl(t)) return;
    assert.match(opensslText(ca.rootCert), /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(opensslText(ca.intermediateCert), /Signature Algorithm: ecdsa-with-SHA256/);
  });

  it('makes both CAs (root pathLen 1, intermediate pathLen 0) with keyCertSign and cRLSign, critical', () => {
    for (const [der, pathLength] of [
      [ca.rootCert, 1],
      [ca.intermediateCert, 0],
    ] as const) {
      const c = parsed(der);
      const bc = c.getExtension(px.BasicConstraintsExtension);
      assert.deepEqual([bc?.ca, bc?.pathLength, bc?.critical], [true, pathLength, true]);
      const ku = c.getExtension(px.KeyUsagesExtension);
      assert.deepEqual([ku?.usages, ku?.critical], [px.KeyUsageFlags.keyCertSign | px.KeyUsageFlags.cRLSign, true]);
      assert.equal(c.getExtension(px.ExtendedKeyUsageExtension), null);
    }
  });

  it('links the key identifiers: intermediate AKI = root SKI, root AKI = its own SKI', () => {
    const [root, intermediate] = [parsed(ca.rootCert), parsed(ca.intermediateCert)];
    const ski = (c: px.X509Certificate) => c.getExtension(px.SubjectKeyIdentifierExtension)?.keyId;
    const aki = (c: px.X509Certificate) => c.getExtension(px.AuthorityKeyIdentifierExtension)?.keyId;
    assert.match(ski(root) ?? '', /^[0-9a-f]{40}$/);
    assert.equal(aki(root), ski(root));
    assert.equal(aki(intermediate), ski(root));
    assert.notEqual(ski(intermediate), ski(root));
  });

  it('is valid from an hour before now, for 10 (root) and 5 (intermediate) years', () => {
    const [root, intermediate] = [parsed(ca.rootCert), parsed(ca.intermediateCert)];
    assert.deepEqual([seconds(root.notBefore), seconds(root.notAfter)], [NOW - 3600, YEAR_10]);
    assert.deepEqual([seconds(intermediate.notBefore), seconds(intermediate.notAfter)], [NOW - 3600, YEAR_5]);
  });

  it('uses positive random 16-byte serial numbers', async () => {
    const other = await createCa({ now: NOW });
    const serials = [ca.rootCert, ca.intermediateCert, other.rootCert, other.intermediateCert].map(
      (der) => new X509Certificate(der).serialNumber,
    );
    for (const s of serials) assert.match(s, /^[4-7][0-9A-F]{31}$/);
    assert.equal(new Set(serials).size, 4);
  });

  it('returns PKCS#8 P-256 keys that belong to the certificates', () => {
    for (const [cert, key] of [
      [ca.rootCert, ca.rootKey],
      [ca.intermediateCert, ca.intermediateKey],
    ] as const) {
      const k = createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' });
      assert.equal(k.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(new X509Certificate(cert).publicKey.equals(createPublicKey(k)));
    }
  });

  it('takes a name, even one with DN syntax in it, literally', async () => {
    const name = 'Acme, "Inc" + \\co';
    const acme = await createCa({ now: NOW, name });
    assert.deepEqual(parsed(acme.rootCert).subjectName.getField('CN'), [`${name} Root CA`]);
    assert.deepEqual(parsed(acme.intermediateCert).issuerName.getField('CN'), [`${name} Root CA`]);
    assert.deepEqual(parsed(acme.intermediateCert).subjectName.getField('CN'), [`${name} Intermediate CA`]);
  });

  it('refuses a bad time or name with PKI_INVALID', async () => {
    for (const now of [Number.NaN, -1, Infinity]) await assert.rejects(createCa({ now }), pkiInvalid('now'));
    await assert.rejects(createCa({ now: NOW, name: ' ' }), pkiInvalid('name'));
    await assert.rejects(createCa({ now: 253_402_300_799 }), pkiInvalid('now'));
  });
});
