import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import {
  SnpVerifier,
  amdExtensions,
  parseCertificate,
  parseSnpReport,
  verifyEndorsement,
} from '../../../src/attest/index.js';
import { CloisterError } from '../../../src/lib/errors.js';
import { GENOA, GOSEV, MILAN, VLEK, certsOf, expectedOf, onlyCloisterErrors, reportOf } from './helpers.js';

/**
 * Property tests (STYLE rule 10): arbitrary bytes and mutated real reports and certificates only
 * ever yield CloisterError, and no change to a real report is ever accepted.
 */

const verifier = new SnpVerifier();
const REPORTS = [GENOA, MILAN, GOSEV] as const;
const mutations = fc.array(
  fc.record({ at: fc.integer({ min: 0, max: 0x49f }), value: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 8 },
);

function mutate(b: Uint8Array, ms: readonly { at: number; value: number }[]): Uint8Array {
  const out = Uint8Array.from(b);
  for (const m of ms) out[m.at] = m.value;
  return out;
}

/** A version (2, 3 or 5) at the start of arbitrary bytes, so that parsing goes past the version check. */
const withVersion = fc
  .tuple(fc.constantFrom(2, 3, 5), fc.uint8Array({ minLength: 0, maxLength: 1300 }))
  .map(([v, rest]) => {
    const b = new Uint8Array(4 + rest.length);
    new DataView(b.buffer).setUint32(0, v, true);
    b.set(rest, 4);
    return b;
  });

describe('parsers: arbitrary input only ever throws CloisterError', () => {
  test('parseSnpReport on arbitrary bytes, any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => void onlyCloisterErrors(() => parseSnpReport(b))),
      { numRuns: 1000 },
    );
  });

  test('parseSnpReport on arbitrary bytes of 1184 with a supported version', () => {
    const exact = fc
      .tuple(fc.constantFrom(2, 3, 5), fc.uint8Array({ minLength: 1180, maxLength: 1180 }))
      .map(([v, rest]) => {
        const b = new Uint8Array(1184);
        b.set(rest, 4);
        new DataView(b.buffer).setUint32(0, v, true);
        return b;
      });
    fc.assert(
      fc.property(exact, (b) => void onlyCloisterErrors(() => parseSnpReport(b))),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(withVersion, (b) => void onlyCloisterErrors(() => parseSnpReport(b))),
      { numRuns: 500 },
    );
  });

  test('verify on arbitrary bytes with real certificates', () => {
    fc.assert(
      fc.property(withVersion, (b) =>
        assert.ok(
          onlyCloisterErrors(() =>
            verifier.verify(b, certsOf(GENOA), { now: expectedOf(GENOA).verify_at_unix }),
          ) instanceof CloisterError,
        ),
      ),
      { numRuns: 300 },
    );
  });

  test('verifyEndorsement on arbitrary bytes as the VCEK and arbitrary text as the ASK', () => {
    const g = certsOf(GENOA);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), fc.string({ maxLength: 200 }), (der, pem) => {
        assert.ok(
          onlyCloisterErrors(() =>
            verifyEndorsement({ kind: 'vcek', leaf: der, intermediate: g.ask as string }),
          ) instanceof CloisterError,
        );
        assert.ok(
          onlyCloisterErrors(() =>
            verifyEndorsement({ kind: 'vcek', leaf: g.vcek as Uint8Array, intermediate: pem }),
          ) instanceof CloisterError,
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('mutated real inputs', () => {
  for (const name of REPORTS) {
    test(`a mutated ${name} report is never accepted`, () => {
      const original = reportOf(name);
      const now = expectedOf(name).verify_at_unix;
      fc.assert(
        fc.property(mutations, (ms) => {
          const b = mutate(original, ms);
          const result = onlyCloisterErrors(() => verifier.verify(b, certsOf(name), { now }));
          if (!(result instanceof CloisterError)) assert.deepEqual(b, original, 'a changed report was accepted');
        }),
        { numRuns: 300 },
      );
    });

    test(`a truncated or extended ${name} report only throws CloisterError`, () => {
      const original = reportOf(name);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1300 }), (length) => {
          const b = new Uint8Array(length);
          b.set(original.subarray(0, Math.min(length, original.length)));
          const result = onlyCloisterErrors(() => parseSnpReport(b));
          assert.equal(result instanceof CloisterError, length !== original.length);
        }),
        { numRuns: 300 },
      );
    });
  }

  test('a mutated VCEK or VLEK only ever throws CloisterError, and never yields another key', () => {
    for (const name of [GENOA, VLEK] as const) {
      const c = certsOf(name);
      const kind = name === VLEK ? 'vlek' : 'vcek';
      const leaf = (c.vcek ?? c.vlek) as Uint8Array;
      const intermediate = (c.ask ?? c.asvk) as string;
      const good = verifyEndorsement({ kind, leaf, intermediate, ark: c.ark });
      fc.assert(
        fc.property(
          fc.array(
            fc.record({ at: fc.integer({ min: 0, max: leaf.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
            { minLength: 1, maxLength: 4 },
          ),
          (ms) => {
            const b = mutate(leaf, ms);
            const result = onlyCloisterErrors(() => verifyEndorsement({ kind, leaf: b, intermediate, ark: c.ark }));
            // The signature covers everything but the signature's own unused encodings: an accepted leaf is the same certificate.
            if (!(result instanceof CloisterError))
              assert.deepEqual(
                result.key.export({ format: 'der', type: 'spki' }),
                good.key.export({ format: 'der', type: 'spki' }),
              );
            void onlyCloisterErrors(() => amdExtensions(parseCertificate(b), kind));
          },
        ),
        { numRuns: 200 },
      );
    }
  });
});
