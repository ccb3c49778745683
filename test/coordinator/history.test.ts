import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { createCa } from '../../src/pki/index.js';
import {
  append,
  checkExtends,
  decodeHead,
  decodeHistory,
  signHead,
  verifyHistory,
  type HistoryEntry,
} from '../../src/coordinator/history.js';

/** The history as a client checks it: every changed byte, a foreign signature, a shorter or forked chain. */

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CloisterError ? e.code : `not a CloisterError: ${String(e)}`;
  }
  return 'did not throw';
};

const now = 1_800_000_000;
const ca = await createCa({ now });
const other = await createCa({ now });

function chain(n: number): HistoryEntry[] {
  let h: HistoryEntry[] = [];
  for (let i = 0; i < n; i++)
    h = append(
      h,
      { kind: 'secrets-written', by: [`user${i}`], manifest: 'f'.repeat(64), details: { secrets: { s: 'plain' } } },
      now + i,
    );
  return h;
}

describe('history', () => {
  it('an honest chain and head verify against the root', () => {
    const h = chain(4);
    verifyHistory(h, signHead(h, ca.rootKey), ca.rootCert);
    verifyHistory([], signHead([], ca.rootKey), ca.rootCert);
  });

  it('a changed entry, a reordered chain, a head of other entries or of another key are HISTORY_INVALID', () => {
    const h = chain(3);
    const head = signHead(h, ca.rootKey);
    const changed = h.map((e, i) => (i === 1 ? { ...e, by: ['mallory'] } : e));
    assert.equal(
      code(() => verifyHistory(changed, head, ca.rootCert)),
      'HISTORY_INVALID',
    );
    assert.equal(
      code(() => verifyHistory([h[0], h[2], h[1]] as HistoryEntry[], head, ca.rootCert)),
      'HISTORY_INVALID',
    );
    assert.equal(
      code(() => verifyHistory(h.slice(0, 2), head, ca.rootCert)),
      'HISTORY_INVALID',
    );
    assert.equal(
      code(() => verifyHistory(h, signHead(h, other.rootKey), ca.rootCert)),
      'HISTORY_INVALID',
    );
    // A chain rebuilt whole by someone without the root key: consistent, but its head is not signed.
    const forged = append(h.slice(0, 2), { kind: 'update-cancelled', by: ['mallory'], manifest: undefined }, now);
    assert.equal(
      code(() => verifyHistory(forged, { ...signHead(forged, other.rootKey) }, ca.rootCert)),
      'HISTORY_INVALID',
    );
  });

  it('a shorter history is HISTORY_ROLLBACK, another entry where the seen head was is HISTORY_FORK', () => {
    const h = chain(5);
    const seen = { size: 3, hash: h[2]?.hash ?? '' };
    checkExtends(seen, h);
    checkExtends(seen, h.slice(0, 3));
    assert.equal(
      code(() => checkExtends(seen, h.slice(0, 2))),
      'HISTORY_ROLLBACK',
    );
    const fork = append(h.slice(0, 2), { kind: 'update-cancelled', by: ['x'], manifest: undefined }, now);
    assert.equal(
      code(() => checkExtends(seen, append(fork, { kind: 'recovered', by: [], manifest: undefined }, now))),
      'HISTORY_FORK',
    );
  });

  it('decoding arbitrary JSON only ever gives HISTORY_INVALID', () => {
    assert.deepEqual(
      decodeHistory(JSON.parse(JSON.stringify(chain(2)))),
      chain(2).map((e) => ({ ...e, time: e.time })),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const f of [() => decodeHistory(value), () => decodeHead(value), () => decodeHistory([value])]) {
          const got = code(f);
          assert.ok(got === 'HISTORY_INVALID' || got === 'did not throw', got);
        }
      }),
    );
  });
});
