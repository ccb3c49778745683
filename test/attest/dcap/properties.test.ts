import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DcapVerifier } from '../../../src/attest/dcap/verify.js';
import { parseQuote } from '../../../src/attest/dcap/quote.js';
import { parseQeIdentity, parseTcbInfo } from '../../../src/attest/dcap/collateral.js';
import { parseCertificate, parseCrl, pemCertificates } from '../../../src/attest/lib/x509.js';
import type { Verdict } from '../../../src/attest/verdict.js';
import {
  SGX_V3,
  TDX_V4,
  TDX_V5,
  collateralJson,
  layout,
  onlyCloisterErrors,
  pemDers,
  quoteBytes,
  regions,
  verifyAt,
} from './helpers.js';

/**
 * Property tests (STYLE rule 10): arbitrary input only ever produces cloister's typed error, and
 * no change to a real quote or to signed collateral text is ever accepted unless it changes nothing
 * the signatures cover.
 */

const verifier = new DcapVerifier();
const QUOTES = [SGX_V3, TDX_V4, TDX_V5] as const;
const short = (name: string) => name.split('/')[1] as string;

/** Mutations: (offset, new byte) pairs applied in order. */
type Mutation = { at: number; value: number };

function applyMutations(b: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  const out = b.slice();
  for (const m of ms) out[m.at] = m.value;
  return out;
}

const mutations = (offset: fc.Arbitrary<number>) =>
  fc.array(fc.record({ at: offset, value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 });

/** Real DER certificates and CRLs to mutate. */
function realCertificates(): Uint8Array[] {
  const c = collateralJson(TDX_V4);
  return [
    ...QUOTES.flatMap((n) => pemDers(Buffer.from(quoteBytes(n)).toString('latin1'))),
    ...pemDers(c['tcb_info_issuer_chain'] as string),
  ];
}
function realCrls(): Uint8Array[] {
  return QUOTES.flatMap((n) => {
    const c = collateralJson(n);
    return [c['pck_crl'] as string, c['root_ca_crl'] as string].map((h) => new Uint8Array(Buffer.from(h, 'hex')));
  });
}

describe('parsers: arbitrary input only ever throws CloisterError', () => {
  test('parseQuote on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), (b) => void onlyCloisterErrors(() => parseQuote(b))),
      { numRuns: 1000 },
    );
  });

  test('parseQuote on arbitrary bytes after a real header (and v5 body descriptor)', () => {
    const prefixes = QUOTES.map((n) => quoteBytes(n).slice(0, layout(quoteBytes(n)).bodyAt));
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.uint8Array({ maxLength: 6000 }),
        (prefix, rest) => void onlyCloisterErrors(() => parseQuote(Buffer.concat([prefix, rest]))),
      ),
      { numRuns: 1000 },
    );
  });

  test('parseQuote on real quotes cut at an arbitrary length with arbitrary size fields', () => {
    const qs = QUOTES.map(quoteBytes);
    fc.assert(
      fc.property(
        fc.constantFrom(...qs),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        (q, cutSeed, fieldSeed, size) => {
          const l = layout(q);
          const sizeFields = [l.sigSizeAt, l.certSizeAt, ...(l.outerSizeAt === undefined ? [] : [l.outerSizeAt])];
          const b = q.slice(0, cutSeed % (q.length + 1));
          const at = sizeFields[fieldSeed % sizeFields.length] as number;
          if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, size, true);
          onlyCloisterErrors(() => parseQuote(b));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('parseCertificate on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => void onlyCloisterErrors(() => parseCertificate(b))),
      { numRuns: 1000 },
    );
  });

  test('parseCertificate on real certificates with 1–8 changed bytes, possibly truncated', () => {
    const certs = realCertificates();
    fc.assert(
      fc.property(
        fc.constantFrom(...certs),
        mutations(fc.nat({ max: 1400 })),
        fc.option(fc.nat({ max: 1400 })),
        (d, ms, cut) => {
          const b = applyMutations(
            d,
            ms.map((m) => ({ ...m, at: m.at % d.length })),
          );
          onlyCloisterErrors(() => parseCertificate(cut === null ? b : b.subarray(0, cut)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('parseCrl on arbitrary bytes throws only CRL_INVALID', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        (b) => void onlyCloisterErrors(() => parseCrl(b), ['CRL_INVALID']),
      ),
      { numRuns: 1000 },
    );
  });

  test('parseCrl on real CRLs with 1–8 changed bytes throws only CRL_INVALID', () => {
    const crls = realCrls();
    fc.assert(
      fc.property(fc.constantFrom(...crls), mutations(fc.nat({ max: 4000 })), (d, ms) => {
        onlyCloisterErrors(
          () =>
            parseCrl(
              applyMutations(
                d,
                ms.map((m) => ({ ...m, at: m.at % d.length })),
              ),
            ),
          ['CRL_INVALID'],
        );
      }),
      { numRuns: 1000 },
    );
  });

  test('pemCertificates on arbitrary strings and on real PEM with changed characters throws only PEM_MALFORMED', () => {
    const pem = collateralJson(SGX_V3)['pck_crl_issuer_chain'] as string;
    fc.assert(
      fc.property(
        fc.string({ maxLength: 3000, unit: 'binary' }),
        (s) => void onlyCloisterErrors(() => pemCertificates(s), ['PEM_MALFORMED']),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat({ max: pem.length - 1 }),
            c: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (edits) => {
          let s = pem;
          for (const e of edits) s = s.slice(0, e.at) + e.c + s.slice(e.at + 1);
          onlyCloisterErrors(() => pemCertificates(s), ['PEM_MALFORMED']);
        },
      ),
      { numRuns: 500 },
    );
  });

  for (const [what, parse] of [
    ['parseTcbInfo', parseTcbInfo],
    ['parseQeIdentity', parseQeIdentity],
  ] as const) {
    test(`${what} on arbitrary strings and on arbitrary JSON throws only COLLATERAL_MALFORMED`, () => {
      fc.assert(
        fc.property(
          fc.string({ maxLength: 500, unit: 'binary' }),
          (s) => void onlyCloisterErrors(() => parse(s), ['COLLATERAL_MALFORMED']),
        ),
        { numRuns: 500 },
      );
      fc.assert(
        fc.property(fc.json(), (s) => void onlyCloisterErrors(() => parse(s), ['COLLATERAL_MALFORMED'])),
        { numRuns: 500 },
      );
    });
  }

  /** Every path (list of keys) into a JSON value, the root excluded. */
  function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    if (Array.isArray(v)) return v.flatMap((x, i) => [[...prefix, i], ...paths(x, [...prefix, i])]);
    if (v !== null && typeof v === 'object')
      return Object.entries(v).flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
    return [];
  }

  function replaced(v: unknown, path: (string | number)[], value: unknown): unknown {
    const copy = structuredClone(v) as Record<string | number, unknown>;
    let node = copy;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    node[path[path.length - 1] as string | number] = value;
    return copy;
  }

  for (const [what, parse, key, name] of [
    ['parseTcbInfo (SGX)', parseTcbInfo, 'tcb_info', SGX_V3],
    ['parseTcbInfo (TDX)', parseTcbInfo, 'tcb_info', TDX_V5],
    ['parseQeIdentity', parseQeIdentity, 'qe_identity', TDX_V4],
  ] as const) {
    test(`${what} on the real document with one member replaced by arbitrary JSON throws only COLLATERAL_MALFORMED`, () => {
      const doc = JSON.parse(collateralJson(name)[key] as string) as unknown;
      const all = paths(doc);
      fc.assert(
        fc.property(fc.nat({ max: all.length - 1 }), fc.oneof(fc.jsonValue(), fc.constant(undefined)), (i, value) => {
          onlyCloisterErrors(
            () => parse(JSON.stringify(replaced(doc, all[i] as (string | number)[], value))),
            ['COLLATERAL_MALFORMED'],
          );
        }),
        { numRuns: 1000 },
      );
    });
  }

  test('DcapVerifier.prepare on real collateral with one field replaced by an arbitrary string or value', () => {
    const base = collateralJson(SGX_V3);
    const keys = Object.keys(base);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.oneof(fc.string({ maxLength: 300, unit: 'binary' }), fc.json(), fc.anything()),
        (key, value) => {
          const input: Record<string, unknown> = { ...base, [key]: value };
          assert.ok(
            onlyCloisterErrors(() => verifier.prepare(input)) instanceof Error,
            'a replaced field must not be accepted',
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('DcapVerifier.prepare on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => void onlyCloisterErrors(() => verifier.prepare(v), ['COLLATERAL_MALFORMED'])),
      { numRuns: 500 },
    );
  });
});

describe('mutated real quotes are never accepted', () => {
  for (const name of QUOTES) {
    test(`1–8 changed bytes anywhere in the ${short(name)} quote up to the end of its signature data`, (t) => {
      const q = quoteBytes(name);
      const collateral = verifier.prepare(collateralJson(name));
      const now = verifyAt(name);
      const baseline: Verdict = verifier.verify(q, { collateral, now });
      const rs = regions(q);
      const pem = rs.find((r) => r.name === 'pem') as { start: number; end: number };
      const originalDers = pemDers(Buffer.from(q.subarray(pem.start, pem.end)).toString('latin1'));
      // Each region is as likely as the others: the PEM is three quarters of the bytes.
      const offset = fc.oneof(...rs.map((r) => fc.integer({ min: r.start, max: r.end - 1 })));
      const seen = { rejected: 0, unchanged: 0, acceptedPemText: 0 };
      fc.assert(
        fc.property(mutations(offset), (ms) => {
          const m = applyMutations(q, ms);
          const changed = [...m.keys()].filter((i) => m[i] !== q[i]);
          const result = onlyCloisterErrors(() => verifier.verify(m, { collateral, now }));
          if (result instanceof Error) {
            assert.ok(changed.length > 0, `the unchanged quote was refused: ${result.code}`);
            seen.rejected++;
            return;
          }
          if (changed.length === 0) {
            seen.unchanged++;
            return;
          }
          // Accepted although bytes changed: only the PEM text may differ, and only in ways that leave every certificate the same.
          const outside = changed.filter((i) => i < pem.start || i >= pem.end);
          assert.deepEqual(
            outside.map((i) => rs.find((r) => i >= r.start && i < r.end)?.name),
            [],
            `accepted a change outside the PEM at ${outside.join(', ')}`,
          );
          assert.deepEqual(
            pemDers(Buffer.from(m.subarray(pem.start, pem.end)).toString('latin1')),
            originalDers,
            `accepted a changed certificate (PEM bytes ${changed.join(', ')})`,
          );
          assert.deepEqual(result, baseline);
          seen.acceptedPemText++;
        }),
        { numRuns: 1000 },
      );
      t.diagnostic(
        `${seen.rejected} rejected, ${seen.unchanged} no-op mutations, ${seen.acceptedPemText} accepted PEM-text-only changes`,
      );
    });
  }
});

describe('mutated signed collateral text is never accepted', () => {
  for (const name of [SGX_V3, TDX_V4]) {
    test(`one character of tcb_info or qe_identity changed (${short(name)}) → COLLATERAL_INVALID or COLLATERAL_MALFORMED`, () => {
      const base = collateralJson(name);
      fc.assert(
        fc.property(
          fc.constantFrom('tcb_info', 'qe_identity'),
          fc.nat(),
          fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
          (key, seed, c) => {
            const text = base[key] as string;
            const at = seed % text.length;
            fc.pre(text[at] !== c);
            const input = { ...base, [key]: text.slice(0, at) + c + text.slice(at + 1) };
            const result = onlyCloisterErrors(
              () => verifier.prepare(input),
              ['COLLATERAL_INVALID', 'COLLATERAL_MALFORMED'],
            );
            assert.ok(result instanceof Error, 'changed signed text was accepted');
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
