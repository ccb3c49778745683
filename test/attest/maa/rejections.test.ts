import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { verifyMaaTokenSync } from '../../../src/attest/maa/verify.js';
import {
  DECODED,
  EXPECTED,
  JWKS,
  SIGNING_KEY_PEM,
  TOKEN,
  VECTOR_OPTIONS,
  b64u,
  certificateFor,
  hmacJws,
  json64,
  jwks,
  maaLikePayload,
  parts,
  signJws,
  signParts,
  testKey,
  throwsCode,
} from './helpers.js';

/** One test per rejection rule (STYLE rule 10), on the real vector where it can be, on own tokens where a signature is needed. */

const verifyVector = (token: string, extra: Record<string, unknown> = {}) =>
  verifyMaaTokenSync(token, { ...VECTOR_OPTIONS, jwks: JWKS, ...extra });
const [HEADER, PAYLOAD, SIGNATURE] = parts(TOKEN);
const withHeader = (header: Record<string, unknown>, signature = SIGNATURE): string =>
  `${json64(header)}.${PAYLOAD}.${signature}`;

const ISSUER = 'https://cloister.test.attest.example';
const NOW = 1_750_000_000;
const own = testKey('rsa2048', 'own-rsa');
const ownSet = { keys: [own.jwk] };
const ownToken = (payload: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  signJws({ alg: 'RS256', kid: own.kid, typ: 'JWT', ...header }, maaLikePayload(ISSUER, NOW, payload), own.privateKey);
const verifyOwn = (token: string, extra: Record<string, unknown> = {}) =>
  verifyMaaTokenSync(token, { now: NOW, issuer: ISSUER, jwks: ownSet, ...extra });

describe('MAA tokens: algorithms', () => {
  test('alg none, signature kept: TOKEN_ALGORITHM_REFUSED', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE'])
      throwsCode(() => verifyVector(withHeader({ ...DECODED.header, alg })), 'TOKEN_ALGORITHM_REFUSED');
  });

  test('alg none, signature dropped (RFC 7515 unsecured form "h.p."): TOKEN_ALGORITHM_REFUSED', () => {
    throwsCode(() => verifyVector(withHeader({ ...DECODED.header, alg: 'none' }, '')), 'TOKEN_ALGORITHM_REFUSED');
  });

  test('HS256 keyed with the RSA public key (PEM, DER, modulus): the confusion attack is refused', () => {
    const header = { ...DECODED.header, alg: 'HS256' };
    const spkiDer = createPublicKey(SIGNING_KEY_PEM).export({ format: 'der', type: 'spki' });
    const modulus = Buffer.from(String(JWKS.keys[0]?.['n']), 'base64url');
    for (const secret of [SIGNING_KEY_PEM, spkiDer, modulus]) {
      const forged = hmacJws(header, DECODED.payload, secret);
      // The forgery is a genuine HMAC under the public key: a verifier that let the token pick the algorithm would accept it.
      const [h, p, s] = parts(forged);
      assert.equal(s, b64u(createHmac('sha256', secret).update(`${h}.${p}`).digest()));
      throwsCode(() => verifyVector(forged), 'TOKEN_ALGORITHM_REFUSED');
    }
  });

  test('other algorithms (HS384, HS512, RS384, ES384, EdDSA, missing, not a string): TOKEN_ALGORITHM_REFUSED', () => {
    for (const alg of ['HS384', 'HS512', 'RS384', 'ES384', 'EdDSA', 'rs256', undefined, 256, null])
      throwsCode(() => verifyVector(withHeader({ ...DECODED.header, alg })), 'TOKEN_ALGORITHM_REFUSED');
  });

  test('an RS256 key named by an ES256 header, and an EC key under RS256: TOKEN_KEY_REFUSED', () => {
    throwsCode(() => verifyVector(withHeader({ ...DECODED.header, alg: 'ES256' })), 'TOKEN_KEY_REFUSED');
    const ec = testKey('p256');
    const token = signJws({ alg: 'ES256', kid: ec.kid }, maaLikePayload(ISSUER, NOW), ec.privateKey);
    const [, p, s] = parts(token);
    throwsCode(
      () => verifyOwn(`${json64({ alg: 'RS256', kid: ec.kid })}.${p}.${s}`, { jwks: { keys: [ec.jwk] } }),
      'TOKEN_KEY_REFUSED',
    );
  });

  test('ES256 with a P-384 key: TOKEN_KEY_REFUSED', () => {
    const p384 = testKey('p384');
    throwsCode(
      () =>
        verifyOwn(signJws({ alg: 'ES256', kid: p384.kid }, maaLikePayload(ISSUER, NOW), testKey('p256').privateKey), {
          jwks: { keys: [p384.jwk] },
        }),
      'TOKEN_KEY_REFUSED',
    );
  });

  test('a JWK restricted to another alg, to use "enc", or without "verify" in key_ops: TOKEN_KEY_REFUSED', () => {
    for (const restriction of [{ alg: 'PS256' }, { use: 'enc' }, { key_ops: ['encrypt'] }]) {
      throwsCode(
        () => verifyOwn(ownToken(), { jwks: { keys: [{ ...own.jwk, ...restriction }] } }),
        'TOKEN_KEY_REFUSED',
      );
    }
    assert.equal(
      verifyOwn(ownToken(), { jwks: { keys: [{ ...own.jwk, alg: 'RS256', use: 'sig', key_ops: ['verify'] }] } }).tee,
      'maa',
    );
  });
});

describe('MAA tokens: signature', () => {
  test('a tampered payload (one claim changed, signature kept): TOKEN_SIGNATURE_INVALID', () => {
    const payload = { ...DECODED.payload, 'x-ms-sgx-mrenclave': '00'.repeat(32) };
    throwsCode(() => verifyVector(`${HEADER}.${json64(payload)}.${SIGNATURE}`), 'TOKEN_SIGNATURE_INVALID');
    // Re-encoding the unchanged payload with other JSON spacing changes the signed bytes too.
    throwsCode(
      () => verifyVector(`${HEADER}.${b64u(JSON.stringify(DECODED.payload, null, 1))}.${SIGNATURE}`),
      'TOKEN_SIGNATURE_INVALID',
    );
  });

  test('a tampered header (typ dropped) and a flipped signature bit: TOKEN_SIGNATURE_INVALID', () => {
    const { typ: _typ, ...header } = DECODED.header;
    throwsCode(() => verifyVector(withHeader(header)), 'TOKEN_SIGNATURE_INVALID');
    const sig = Buffer.from(SIGNATURE, 'base64url');
    sig[10] = (sig[10] as number) ^ 1;
    throwsCode(() => verifyVector(`${HEADER}.${PAYLOAD}.${b64u(sig)}`), 'TOKEN_SIGNATURE_INVALID');
  });

  test('a signature one byte short or long: TOKEN_SIGNATURE_INVALID', () => {
    const sig = Buffer.from(SIGNATURE, 'base64url');
    for (const s of [sig.subarray(1), Buffer.concat([Buffer.alloc(1), sig])])
      throwsCode(() => verifyVector(`${HEADER}.${PAYLOAD}.${b64u(s)}`), 'TOKEN_SIGNATURE_INVALID');
  });

  test('PS256 with another salt length than the hash (RFC 7518 §3.5): TOKEN_SIGNATURE_INVALID', async () => {
    const { sign, constants } = await import('node:crypto');
    const input = `${json64({ alg: 'PS256', kid: own.kid })}.${json64(maaLikePayload(ISSUER, NOW))}`;
    for (const saltLength of [0, 20, 64]) {
      const s = sign('sha256', Buffer.from(input), {
        key: own.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      });
      throwsCode(() => verifyOwn(`${input}.${b64u(s)}`), 'TOKEN_SIGNATURE_INVALID');
    }
  });

  test('ES256 with a DER signature instead of R‖S (RFC 7518 §3.4): TOKEN_SIGNATURE_INVALID', async () => {
    const { sign } = await import('node:crypto');
    const ec = testKey('p256');
    const input = `${json64({ alg: 'ES256', kid: ec.kid })}.${json64(maaLikePayload(ISSUER, NOW))}`;
    const der = sign('sha256', Buffer.from(input), ec.privateKey);
    throwsCode(() => verifyOwn(`${input}.${b64u(der)}`, { jwks: { keys: [ec.jwk] } }), 'TOKEN_SIGNATURE_INVALID');
  });

  test('a signature by another key under the same kid: TOKEN_SIGNATURE_INVALID', () => {
    const other = testKey('rsa2048', own.kid);
    throwsCode(
      () => verifyOwn(signJws({ alg: 'RS256', kid: own.kid }, maaLikePayload(ISSUER, NOW), other.privateKey)),
      'TOKEN_SIGNATURE_INVALID',
    );
  });
});

describe('MAA tokens: time', () => {
  test('expired: at exp and after it: TOKEN_EXPIRED', () => {
    for (const now of [EXPECTED.exp, EXPECTED.exp + 1, Date.now() / 1000])
      throwsCode(() => verifyVector(TOKEN, { now }), 'TOKEN_EXPIRED');
  });

  test('not yet valid: before nbf: TOKEN_NOT_YET_VALID', () => {
    for (const now of [EXPECTED.nbf - 1, EXPECTED.nbf - 0.001, 0])
      throwsCode(() => verifyVector(TOKEN, { now }), 'TOKEN_NOT_YET_VALID');
  });

  test('iat in the future (no nbf): TOKEN_NOT_YET_VALID', () => {
    throwsCode(() => verifyOwn(ownToken({ nbf: undefined, iat: NOW + 30 })), 'TOKEN_NOT_YET_VALID');
  });

  test('leewaySeconds tolerates that much skew, and no more', () => {
    assert.equal(verifyVector(TOKEN, { now: EXPECTED.exp + 59, leewaySeconds: 60 }).tee, 'maa');
    assert.equal(verifyVector(TOKEN, { now: EXPECTED.nbf - 59, leewaySeconds: 60 }).tee, 'maa');
    throwsCode(() => verifyVector(TOKEN, { now: EXPECTED.exp + 60, leewaySeconds: 60 }), 'TOKEN_EXPIRED');
    throwsCode(() => verifyVector(TOKEN, { now: EXPECTED.nbf - 61, leewaySeconds: 60 }), 'TOKEN_NOT_YET_VALID');
    throwsCode(() => verifyVector(TOKEN, { leewaySeconds: -1 }), 'USAGE');
  });

  test('exp missing or not a number, nbf not a number: TOKEN_MALFORMED', () => {
    for (const claims of [{ exp: undefined }, { exp: '1750000000' }, { nbf: 'soon' }, { iat: null }])
      throwsCode(() => verifyOwn(ownToken(claims)), 'TOKEN_MALFORMED');
  });
});

describe('MAA tokens: issuer and keys', () => {
  test('wrong issuer: TOKEN_ISSUER_MISMATCH', () => {
    for (const issuer of [
      'https://evil.wus.attest.azure.net',
      `${EXPECTED.issuer}/`,
      EXPECTED.issuer.toUpperCase(),
      '',
    ]) {
      throwsCode(() => verifyVector(TOKEN, { issuer }), 'TOKEN_ISSUER_MISMATCH');
    }
    throwsCode(() => verifyOwn(ownToken({ iss: undefined })), 'TOKEN_ISSUER_MISMATCH');
  });

  test('unknown kid, and no kid at all: TOKEN_KEY_UNKNOWN', () => {
    const set = jwks();
    (set.keys[0] as Record<string, unknown>)['kid'] = 'another-kid';
    throwsCode(() => verifyVector(TOKEN, { jwks: set }), 'TOKEN_KEY_UNKNOWN');
    const { kid: _kid, ...header } = DECODED.header;
    throwsCode(() => verifyVector(withHeader(header)), 'TOKEN_KEY_UNKNOWN');
    throwsCode(() => verifyVector(withHeader({ ...DECODED.header, kid: 42 })), 'TOKEN_MALFORMED');
  });

  test('a token carrying its own key (jwk) and signed with it: TOKEN_HEADER_REFUSED', () => {
    const attacker = testKey('rsa2048', EXPECTED.kid);
    for (const kid of [EXPECTED.kid, attacker.kid, undefined]) {
      const forged = signJws({ alg: 'RS256', kid, jwk: attacker.jwk }, DECODED.payload, attacker.privateKey);
      throwsCode(() => verifyVector(forged), 'TOKEN_HEADER_REFUSED');
    }
  });

  test('a token carrying its own certificate (x5c) or pointing at one (x5u), signed with its key: TOKEN_HEADER_REFUSED', async () => {
    const attacker = testKey('rsa2048');
    const cert = await certificateFor(attacker.publicKey, `CN=${EXPECTED.issuer}`);
    for (const extra of [{ x5c: [cert.toString('base64')] }, { x5u: 'https://evil.example/cert.pem' }]) {
      const forged = signJws({ alg: 'RS256', kid: EXPECTED.kid, ...extra }, DECODED.payload, attacker.privateKey);
      throwsCode(() => verifyVector(forged), 'TOKEN_HEADER_REFUSED');
    }
  });

  test('crit (even empty, even naming nothing cloister knows): TOKEN_HEADER_REFUSED', () => {
    for (const crit of [['exp'], [], ['b64']])
      throwsCode(() => verifyOwn(ownToken({}, { crit, b64: true })), 'TOKEN_HEADER_REFUSED');
  });

  test('typ other than JWT: TOKEN_MALFORMED; JWT in any case and application/jwt are fine', () => {
    throwsCode(() => verifyOwn(ownToken({}, { typ: 'at+jwt' })), 'TOKEN_MALFORMED');
    for (const typ of ['jwt', 'JWT', 'application/jwt']) assert.equal(verifyOwn(ownToken({}, { typ })).tee, 'maa');
  });
});

describe('MAA tokens: key sets', () => {
  const refusedSet = (set: unknown) => throwsCode(() => verifyOwn(ownToken(), { jwks: set }), 'JWKS_INVALID');

  test('not a key set: JWKS_INVALID naming the path', () => {
    for (const set of [
      undefined,
      null,
      [],
      'keys',
      { keys: {} },
      { keys: [] },
      { keys: [42] },
      { keys: [{ kid: 'x' }] },
    ])
      refusedSet(set);
    assert.equal(refusedSet({ keys: [{ ...own.jwk, n: 'AQAB=' }] }).path, 'jwks.keys[0].n');
  });

  test('a private key member in the set: JWKS_INVALID', () => {
    const withPrivate = own.privateKey.export({ format: 'jwk' });
    assert.equal(refusedSet({ keys: [{ ...withPrivate, kid: own.kid }] }).path, 'jwks.keys[0].d');
  });

  test('two keys of one kid: JWKS_INVALID', () => {
    refusedSet({ keys: [own.jwk, { ...testKey('rsa2048').jwk, kid: own.kid }] });
  });

  test('x5c whose key is not the key of n/e, or whose thumbprint is wrong: JWKS_INVALID', async () => {
    const cert = (await certificateFor(testKey('rsa2048').publicKey)).toString('base64');
    refusedSet({ keys: [{ ...own.jwk, x5c: [cert] }] });
    const mine = (await certificateFor(own.publicKey)).toString('base64');
    refusedSet({ keys: [{ ...own.jwk, x5c: [mine], 'x5t#S256': b64u(Buffer.alloc(32)) }] });
    refusedSet({ keys: [{ ...own.jwk, x5c: ['not base64!'] }] });
    refusedSet({ keys: [{ ...own.jwk, x5c: [Buffer.from('not a certificate').toString('base64')] }] });
    assert.equal(verifyOwn(ownToken(), { jwks: { keys: [{ ...own.jwk, x5c: [mine] }] } }).tee, 'maa');
  });

  test('EC coordinates of the wrong size, or an unsupported curve: JWKS_INVALID', () => {
    const ec = testKey('p256');
    refusedSet({ keys: [{ ...ec.jwk, x: b64u(Buffer.alloc(31, 1)) }] });
    refusedSet({ keys: [{ ...ec.jwk, crv: 'secp256k1' }] });
  });

  test('a symmetric (oct) key in the set: JWKS_INVALID (its k is a secret)', () => {
    refusedSet({ keys: [own.jwk, { kty: 'oct', kid: 'hmac', k: b64u(Buffer.alloc(32, 7)) }] });
  });

  test('a key of a type cloister does not verify with (OKP), named by the token: left out, the token refused with TOKEN_KEY_REFUSED', () => {
    const set = { keys: [own.jwk, { kty: 'OKP', crv: 'Ed25519', kid: 'ed', x: b64u(Buffer.alloc(32, 9)) }] };
    const e = throwsCode(() => verifyOwn(ownToken({}, { kid: 'ed' }), { jwks: set }), 'TOKEN_KEY_REFUSED');
    assert.match(e.message, /OKP/);
    assert.equal(verifyOwn(ownToken(), { jwks: set }).tee, 'maa');
  });
});

describe('MAA tokens: form (RFC 7515 §7.1 compact serialization)', () => {
  test('extra or missing parts: TOKEN_MALFORMED', () => {
    for (const token of [
      `${TOKEN}.`,
      `${TOKEN}.${SIGNATURE}`,
      `${HEADER}.${PAYLOAD}`,
      HEADER,
      `${HEADER}..${PAYLOAD}.${SIGNATURE}.x`,
      '',
      '..',
      '....',
    ]) {
      throwsCode(() => verifyVector(token), 'TOKEN_MALFORMED');
    }
  });

  test('bad base64url (padding, standard alphabet, whitespace, impossible length, non-canonical bits): TOKEN_MALFORMED', () => {
    const std = Buffer.from(SIGNATURE, 'base64url').toString('base64');
    const lastBits = SIGNATURE.slice(0, -1) + String.fromCharCode(SIGNATURE.charCodeAt(SIGNATURE.length - 1) + 1);
    for (const token of [
      `${HEADER}=.${PAYLOAD}.${SIGNATURE}`,
      `${HEADER}.${PAYLOAD}.${std}`,
      `${HEADER}.${PAYLOAD}.${SIGNATURE}==`,
      `${HEADER}.${PAYLOAD} .${SIGNATURE}`,
      `${HEADER}.${PAYLOAD}\n.${SIGNATURE}`,
      `${HEADER}.${PAYLOAD}.${SIGNATURE}AA`,
      `${HEADER}.${PAYLOAD}.${lastBits}`,
      `${TOKEN}\n`,
    ]) {
      throwsCode(() => verifyVector(token), 'TOKEN_MALFORMED');
    }
  });

  test('a header or payload that is not a UTF-8 JSON object: TOKEN_MALFORMED', () => {
    for (const header of [
      b64u('[]'),
      b64u('null'),
      b64u('{"alg":"RS256"'),
      b64u(Buffer.from([0x7b, 0xff, 0x7d])),
      '',
    ]) {
      throwsCode(() => verifyVector(`${header}.${PAYLOAD}.${SIGNATURE}`), 'TOKEN_MALFORMED');
    }
    // A payload is read only once its signature verifies: sign the malformed ones properly.
    for (const payload of [b64u('[1,2]'), b64u('"claims"'), b64u('{"exp":1'), b64u(Buffer.from([0xc3, 0x28]))]) {
      throwsCode(
        () => verifyOwn(signParts(json64({ alg: 'RS256', kid: own.kid }), payload, 'RS256', own.privateKey)),
        'TOKEN_MALFORMED',
      );
    }
  });

  test('a token longer than 256 KiB: TOKEN_MALFORMED before any decoding', () => {
    throwsCode(() => verifyVector(`${HEADER}.${'A'.repeat(256 * 1024)}.${SIGNATURE}`), 'TOKEN_MALFORMED');
  });

  test('a non-string token: TOKEN_MALFORMED', () => {
    throwsCode(() => verifyVector(42 as unknown as string), 'TOKEN_MALFORMED');
  });
});
