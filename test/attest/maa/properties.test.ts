import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { maaClaims } from '../../../src/attest/maa/claims.js';
import { parseJwks } from '../../../src/attest/maa/jwks.js';
import { verifyMaaTokenSync } from '../../../src/attest/maa/verify.js';
import { CloisterError } from '../../../src/lib/errors.js';
import type { Verdict } from '../../../src/attest/verdict.js';
import {
  DECODED,
  JWKS,
  TOKEN,
  VECTOR_OPTIONS,
  b64u,
  json64,
  maaLikePayload,
  onlyCloisterErrors,
  parts,
  signJws,
  testKey,
} from './helpers.js';

/**
 * Property tests (STYLE rule 10): arbitrary input only ever produces cloister's typed error, and
 * no change to a real token is ever accepted as a changed payload.
 */

const keys = parseJwks(JWKS);
const verify = (token: string): Verdict => verifyMaaTokenSync(token, { ...VECTOR_OPTIONS, jwks: keys });

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const tokenChar = fc.constantFrom(...ALPHABET, '.', '=', '+', '/', ' ', '\n', '\u00e9');
const [HEADER, PAYLOAD, SIGNATURE] = parts(TOKEN);

/** Up to `max` character substitutions in `token`, and the token they make. */
const substitutions = (token: string, max: number) =>
  fc
    .array(fc.record({ at: fc.nat({ max: token.length - 1 }), c: tokenChar }), { minLength: 1, maxLength: max })
    .map((edits) => {
      const chars = [...token];
      for (const { at, c } of edits) chars[at] = c;
      return chars.join('');
    });

describe('MAA tokens: arbitrary input only ever throws CloisterError', () => {
  test('arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 600 }),
        (s) => void assert.ok(onlyCloisterErrors(() => verify(s)) instanceof CloisterError),
      ),
      { numRuns: 1000 },
    );
  });

  test('strings of the JWS alphabet and dots', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: tokenChar, maxLength: 600 }),
        (s) => void assert.ok(onlyCloisterErrors(() => verify(s)) instanceof CloisterError),
      ),
      { numRuns: 1000 },
    );
  });

  test('arbitrary JSON as header and payload, arbitrary signature bytes', () => {
    const header = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          alg: fc.constantFrom('RS256', 'PS256', 'ES256', 'none', 'HS256'),
          kid: fc.constantFrom(String(DECODED.header['kid']), 'x'),
          typ: fc.constantFrom('JWT', 'jose'),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(header, fc.jsonValue(), fc.uint8Array({ maxLength: 300 }), (h, p, s) => {
        assert.ok(onlyCloisterErrors(() => verify(`${json64(h)}.${json64(p)}.${b64u(s)}`)) instanceof CloisterError);
      }),
      { numRuns: 500 },
    );
  });

  test('parseJwks on arbitrary JSON and on key-shaped objects: only JWKS_INVALID', () => {
    const member = fc.oneof(fc.string({ unit: fc.constantFrom(...ALPHABET, '='), maxLength: 400 }), fc.jsonValue());
    const jwk = fc.record(
      {
        kty: fc.constantFrom('RSA', 'EC', 'oct', 'OKP', 1),
        kid: fc.string(),
        n: member,
        e: member,
        crv: fc.constantFrom('P-256', 'P-384', 'X'),
        x: member,
        y: member,
        x5c: fc.array(member, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ keys: fc.array(jwk, { maxLength: 3 }) })),
        (set) => void onlyCloisterErrors(() => parseJwks(set), ['JWKS_INVALID']),
      ),
      { numRuns: 1000 },
    );
  });

  test('maaClaims on arbitrary payloads with MAA claim names: a mapping or TOKEN_MALFORMED', () => {
    const name = fc.constantFrom(
      'x-ms-sgx-mrenclave',
      'sgx-mrenclave',
      'x-ms-sgx-svn',
      '$svn',
      'x-ms-sgx-ehd',
      'maa-ehd',
      'x-ms-runtime',
      'x-ms-sgx-tcb-status',
      'x-ms-sgx-advisory-ids',
      'iss',
      'x-ms-policy-hash',
    );
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.jsonValue()),
        (payload) => void onlyCloisterErrors(() => maaClaims(payload), ['TOKEN_MALFORMED']),
      ),
      { numRuns: 1000 },
    );
  });
});

describe('MAA tokens: mutated real tokens are never accepted', () => {
  test('character substitutions anywhere in the vector: accepted only when nothing changed', () => {
    fc.assert(
      fc.property(substitutions(TOKEN, 6), (mutated) => {
        const result = onlyCloisterErrors(() => verify(mutated));
        if (!(result instanceof CloisterError)) assert.equal(mutated, TOKEN);
      }),
      { numRuns: 2000 },
    );
  });

  test('insertions and deletions: always refused', () => {
    const edit = fc
      .record({
        at: fc.nat({ max: TOKEN.length }),
        remove: fc.nat({ max: 3 }),
        insert: fc.string({ unit: tokenChar, maxLength: 3 }),
      })
      .filter((e) => e.remove > 0 || e.insert.length > 0);
    fc.assert(
      fc.property(edit, ({ at, remove, insert }) => {
        const mutated = TOKEN.slice(0, at) + insert + TOKEN.slice(at + remove);
        if (mutated !== TOKEN) assert.ok(onlyCloisterErrors(() => verify(mutated)) instanceof CloisterError);
      }),
      { numRuns: 1000 },
    );
  });

  test('a payload with any claim changed, added or removed, under the original signature: TOKEN_SIGNATURE_INVALID', () => {
    const change = fc.record({
      claim: fc.constantFrom(...Object.keys(DECODED.payload), 'x-ms-sgx-tcb-status', 'nonce'),
      value: fc.option(fc.jsonValue(), { nil: undefined }),
    });
    fc.assert(
      fc.property(change, ({ claim, value }) => {
        const payload = json64({ ...DECODED.payload, [claim]: value });
        if (payload === PAYLOAD) return;
        onlyCloisterErrors(() => verify(`${HEADER}.${payload}.${SIGNATURE}`), ['TOKEN_SIGNATURE_INVALID']);
      }),
      { numRuns: 500 },
    );
  });

  test('ES256 tokens (whose signatures are malleable): a mutated token is never accepted with another payload', () => {
    const key = testKey('p256');
    const now = 1_750_000_000;
    const token = signJws(
      { alg: 'ES256', kid: key.kid },
      maaLikePayload('https://x.attest.example', now),
      key.privateKey,
    );
    fc.assert(
      fc.property(substitutions(token, 4), (mutated) => {
        const result = onlyCloisterErrors(() => verifyMaaTokenSync(mutated, { now, jwks: { keys: [key.jwk] } }));
        if (!(result instanceof CloisterError))
          assert.equal(mutated.split('.').slice(0, 2).join('.'), token.split('.').slice(0, 2).join('.'));
      }),
      { numRuns: 500 },
    );
  });
});
