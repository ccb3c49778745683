import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import {
  parseAzureEvidence,
  parseHclReport,
  parseTpmQuote,
  parseTpmSignature,
  verifyAzureVtpm,
  type AzureVtpmEvidence,
} from '../../../src/attest/index.js';
import { CloisterError } from '../../../src/lib/errors.js';
import { onlyCloisterErrors } from '../snp/helpers.js';
import { GENOA_EVIDENCE, azureExpected, chainOf, evidenceJson, filesOf } from './helpers.js';

/** Property tests: arbitrary and mutated Azure evidence only ever yields CloisterError, and no change is accepted. */

const e = azureExpected(GENOA_EVIDENCE);
const real = filesOf(evidenceJson(GENOA_EVIDENCE));
const quote = real.tpmQuote as NonNullable<AzureVtpmEvidence['tpmQuote']>;
const verify = (evidence: unknown) => verifyAzureVtpm(evidence, chainOf(GENOA_EVIDENCE), { now: e.verify_at_unix });

const mutations = (length: number) =>
  fc.array(fc.record({ at: fc.integer({ min: 0, max: length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
    minLength: 1,
    maxLength: 6,
  });
function mutate(b: Uint8Array, ms: readonly { at: number; value: number }[]): Uint8Array {
  const out = Uint8Array.from(b);
  for (const m of ms) out[m.at] = m.value;
  return out;
}

/** Arbitrary bytes after a given prefix, so that parsing gets past the first check. */
const after = (prefix: number[], maxLength: number) =>
  fc.uint8Array({ maxLength }).map((rest) => Uint8Array.from([...prefix, ...rest]));

describe('parsers: arbitrary input only ever throws CloisterError', () => {
  test('parseHclReport on arbitrary bytes, and after an "HCLA" header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => void onlyCloisterErrors(() => parseHclReport(b))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        after([0x48, 0x43, 0x4c, 0x41, 1, 0, 0, 0], 3000),
        (b) => void onlyCloisterErrors(() => parseHclReport(b)),
      ),
      { numRuns: 500 },
    );
  });

  test('parseTpmQuote and parseTpmSignature on arbitrary bytes, and after the quote magic and type', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => void onlyCloisterErrors(() => parseTpmQuote(b))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        after([0xff, 0x54, 0x43, 0x47, 0x80, 0x18], 400),
        (b) => void onlyCloisterErrors(() => parseTpmQuote(b)),
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => void onlyCloisterErrors(() => parseTpmSignature(b, 256))),
      { numRuns: 500 },
    );
  });

  test('parseAzureEvidence on arbitrary JSON values and arbitrary objects with the expected keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => void onlyCloisterErrors(() => parseAzureEvidence(v))),
      { numRuns: 500 },
    );
    const shaped = fc.record({
      version: fc.constantFrom(undefined, 1, 2, 3),
      report: fc.anything(),
      hcl_report: fc.anything(),
      vcek: fc.anything(),
      quote: fc.anything(),
      tpm_quote: fc.anything(),
    });
    fc.assert(
      fc.property(shaped, (v) => void onlyCloisterErrors(() => parseAzureEvidence(v))),
      { numRuns: 500 },
    );
  });

  test('verifyAzureVtpm on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) =>
        assert.ok(onlyCloisterErrors(() => verify(b)) instanceof CloisterError),
      ),
      { numRuns: 300 },
    );
  });
});

describe('mutated real evidence is never accepted', () => {
  test('the HCL report (header, SNP report, request data, runtime claims, padding)', () => {
    fc.assert(
      fc.property(mutations(real.hclReport.length), (ms) => {
        const hclReport = mutate(real.hclReport, ms);
        const result = onlyCloisterErrors(() => verify({ ...real, hclReport }));
        // The header's request type and status (bytes 12-19) are covered by nothing the hardware
        // signs and reach no claim: they are the only bytes a change of which may be accepted.
        const unsigned = (b: Uint8Array) => Uint8Array.from(b).fill(0, 12, 20);
        if (!(result instanceof CloisterError)) assert.deepEqual(unsigned(hclReport), unsigned(real.hclReport));
      }),
      { numRuns: 200 },
    );
  });

  test('the quote message and signature', () => {
    fc.assert(
      fc.property(mutations(quote.message.length), mutations(quote.signature.length), fc.boolean(), (mm, ms, both) => {
        const message = mutate(quote.message, mm);
        const signature = both ? mutate(quote.signature, ms) : quote.signature;
        const result = onlyCloisterErrors(() => verify({ ...real, tpmQuote: { ...quote, message, signature } }));
        if (!(result instanceof CloisterError)) {
          assert.deepEqual(message, quote.message);
          assert.deepEqual(signature, quote.signature);
        }
      }),
      { numRuns: 200 },
    );
  });
});
