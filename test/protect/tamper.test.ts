import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloisterError } from '../../src/lib/errors.js';
import { openFile, sealFile, type OpenOptions } from '../../src/protect/index.js';
import { HEADER, KEY, OTHER_KEY, TAG, bytesOf, chunkAt, chunksOf, code, concat, flip } from './helpers.js';

/**
 * One test per property of issue 5's "How it is checked" that concerns the file format: every
 * change to a sealed file is refused, with the code and chunk docs/protected-files.md gives.
 */

const S = 64;
const PATH = 'app/main.py';
const NAME = '/volumes/app/main.py';
/** Five full chunks and a final one of 20 bytes. */
const PLAIN = bytesOf(5 * S + 20);
const N = 6;
const seal = (version: number, path = PATH, plaintext = PLAIN) =>
  sealFile(plaintext, { volumeKey: KEY, path, version, chunkSize: S });
const OPEN: OpenOptions = { volumeKey: KEY, path: PATH, fileName: NAME };
const { sealed: SEALED, root: ROOT } = seal(3);
const header = SEALED.subarray(0, HEADER);
const chunks = chunksOf(SEALED, S);

/** The header's regions and what flipping a byte in each meets first (docs, "Opening"). */
const HEADER_REGIONS: [field: string, from: number, to: number, expected: string][] = [
  ['magic', 0, 16, 'PROTECTED_HEADER_INVALID'],
  ['formatVersion', 16, 18, 'PROTECTED_HEADER_INVALID'],
  ['chunkSize', 18, 22, 'PROTECTED_HEADER_INVALID'],
  ['salt', 22, 54, 'PROTECTED_HEADER_INVALID'],
  ['version', 54, 62, 'PROTECTED_HEADER_INVALID'],
  ['length', 62, 70, 'PROTECTED_HEADER_INVALID'],
  ['pathHash', 70, 102, 'PROTECTED_HEADER_INVALID'],
  ['keyId', 102, 118, 'PROTECTED_WRONG_KEY'],
  ['mac', 118, 150, 'PROTECTED_HEADER_INVALID'],
];

const refused = (bytes: Uint8Array, expected: string, chunk?: number, options: OpenOptions = OPEN) =>
  assert.throws(() => openFile(bytes, options), code(expected, { path: NAME, ...(chunk !== undefined && { chunk }) }));

describe('protected files refuse every change', () => {
  it('opens the untouched file, with its version and root', () => {
    const opened = openFile(SEALED, { ...OPEN, expectedVersion: 3, expectedRoot: ROOT });
    assert.deepEqual(opened.plaintext, PLAIN);
    assert.equal(opened.version, 3n);
    assert.equal(chunks.length, N);
  });

  it('a flipped byte in chunk N (ciphertext or tag): PROTECTED_INTEGRITY naming the file and chunk N', () => {
    for (let i = 0; i < N; i++) {
      const start = HEADER + i * (S + TAG);
      const length = chunkAt(SEALED, S, i).length;
      for (const at of [start, start + Math.floor(length / 2), start + length - 1]) {
        assert.throws(
          () => openFile(flip(SEALED, at), OPEN),
          (e) => {
            assert.ok(e instanceof CloisterError && e.code === 'PROTECTED_INTEGRITY', String(e));
            assert.equal(e.chunk, i);
            assert.equal(e.path, NAME);
            assert.match(e.message, new RegExp(`^${NAME}: chunk ${i} of ${N} `));
            return true;
          },
        );
      }
    }
  });

  it('a flipped header byte: PROTECTED_HEADER_INVALID (PROTECTED_WRONG_KEY in the key id), for every byte and bit', () => {
    for (const [field, from, to, expected] of HEADER_REGIONS) {
      for (let at = from; at < to; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const bytes = new Uint8Array(SEALED);
          bytes[at] = (bytes[at] as number) ^ (1 << bit);
          assert.throws(() => openFile(bytes, OPEN), code(expected, { path: NAME }), `${field} byte ${at} bit ${bit}`);
        }
      }
    }
  });

  it('two chunks swapped: PROTECTED_INTEGRITY at the first of them', () => {
    const swap = (i: number, j: number) =>
      concat(header, ...chunks.map((c, k) => (k === i ? chunks[j] : k === j ? chunks[i] : c) as Uint8Array));
    refused(swap(0, 1), 'PROTECTED_INTEGRITY', 0);
    refused(swap(1, 3), 'PROTECTED_INTEGRITY', 1);
    refused(swap(2, 4), 'PROTECTED_INTEGRITY', 2);
  });

  it('a chunk duplicated: PROTECTED_INTEGRITY at the copy', () => {
    for (const i of [0, 2, 4])
      refused(
        concat(header, ...chunks.slice(0, i + 1), chunks[i] as Uint8Array, ...chunks.slice(i + 1)),
        'PROTECTED_INTEGRITY',
        i + 1,
      );
    refused(concat(SEALED, chunks[N - 1] as Uint8Array), 'PROTECTED_INTEGRITY', N);
  });

  it('the final chunk dropped, or every chunk: PROTECTED_TRUNCATED naming the missing chunk', () => {
    refused(concat(header, ...chunks.slice(0, N - 1)), 'PROTECTED_TRUNCATED', N - 1);
    refused(concat(header, ...chunks.slice(0, 2)), 'PROTECTED_TRUNCATED', 2);
    refused(header, 'PROTECTED_TRUNCATED', 0);
    const exact = seal(3, PATH, bytesOf(3 * S)).sealed;
    refused(exact.subarray(0, HEADER + 2 * (S + TAG)), 'PROTECTED_TRUNCATED', 2);
  });

  it('a chunk cut in the middle: PROTECTED_INTEGRITY at that chunk, PROTECTED_TRUNCATED in the final one', () => {
    const cut = (i: number, from: number, count: number) => {
      const c = chunks[i] as Uint8Array;
      return concat(
        header,
        ...chunks.slice(0, i),
        c.subarray(0, from),
        c.subarray(from + count),
        ...chunks.slice(i + 1),
      );
    };
    refused(cut(1, 10, 5), 'PROTECTED_INTEGRITY', 1);
    refused(cut(3, 0, 1), 'PROTECTED_INTEGRITY', 3);
    refused(cut(N - 1, 5, 3), 'PROTECTED_TRUNCATED', N - 1);
    for (let end = HEADER; end < SEALED.length; end += 7) {
      assert.throws(() => openFile(SEALED.subarray(0, end), OPEN), code('PROTECTED_TRUNCATED'), `cut at ${end}`);
    }
  });

  it('a chunk or a byte appended: PROTECTED_INTEGRITY after the final chunk', () => {
    refused(concat(SEALED, chunks[0] as Uint8Array), 'PROTECTED_INTEGRITY', N);
    refused(concat(SEALED, new Uint8Array(1)), 'PROTECTED_INTEGRITY', N);
    refused(concat(SEALED, seal(4).sealed.subarray(HEADER, HEADER + S + TAG)), 'PROTECTED_INTEGRITY', N);
  });

  it('two files of a volume swapped on disk: PROTECTED_WRONG_PATH', () => {
    const a = seal(1, 'app/a.py').sealed;
    const b = seal(1, 'app/b.py').sealed;
    assert.throws(
      () => openFile(b, { volumeKey: KEY, path: 'app/a.py', fileName: 'vol/app/a.py' }),
      code('PROTECTED_WRONG_PATH', { path: 'vol/app/a.py' }),
    );
    assert.throws(
      () => openFile(a, { volumeKey: KEY, path: 'app/b.py' }),
      code('PROTECTED_WRONG_PATH', { path: 'app/b.py' }),
    );
    assert.throws(() => openFile(a, { volumeKey: KEY, path: 'app/a.py/' }), code('PROTECTED_OPTIONS_INVALID'));
  });

  it('a chunk spliced from the previous version, or from another file at the same place: PROTECTED_INTEGRITY at that chunk', () => {
    const previous = chunksOf(seal(2).sealed, S);
    const other = chunksOf(seal(3, 'app/other.py').sealed, S);
    for (const i of [0, 2, N - 1]) {
      refused(
        concat(header, ...chunks.map((c, k) => (k === i ? (previous[k] as Uint8Array) : c))),
        'PROTECTED_INTEGRITY',
        i,
      );
      refused(
        concat(header, ...chunks.map((c, k) => (k === i ? (other[k] as Uint8Array) : c))),
        'PROTECTED_INTEGRITY',
        i,
      );
    }
    const resealed = seal(3).sealed;
    refused(concat(resealed.subarray(0, HEADER), ...chunks), 'PROTECTED_INTEGRITY', 0);
  });

  it('an older copy restored: PROTECTED_ROLLBACK naming both versions; a newer one is accepted', () => {
    assert.throws(
      () => openFile(seal(3).sealed, { ...OPEN, expectedVersion: 4 }),
      (e) => {
        assert.ok(e instanceof CloisterError && e.code === 'PROTECTED_ROLLBACK', String(e));
        assert.equal(e.path, NAME);
        assert.equal(e.actual, 3n);
        assert.equal(e.expected, 4n);
        assert.match(e.message, /version 3 is older than version 4 on record/);
        return true;
      },
    );
    assert.equal(openFile(seal(5).sealed, { ...OPEN, expectedVersion: 4n }).version, 5n);
    assert.equal(openFile(seal(4).sealed, { ...OPEN, expectedVersion: 4n }).version, 4n);
  });

  it('an older copy with its version field edited: PROTECTED_HEADER_INVALID before any version check', () => {
    for (const version of [4n, 2n ** 63n]) {
      const edited = Buffer.from(SEALED);
      edited.writeBigUInt64LE(version, 54);
      refused(new Uint8Array(edited), 'PROTECTED_HEADER_INVALID', undefined, { ...OPEN, expectedVersion: 4 });
    }
  });

  it('another authentic copy of the recorded version: PROTECTED_INTEGRITY for the root', () => {
    const again = seal(3).sealed;
    assert.throws(
      () => openFile(again, { ...OPEN, expectedVersion: 3, expectedRoot: ROOT }),
      (e) => code('PROTECTED_INTEGRITY', { path: NAME })(e) && (e as CloisterError).field === 'root',
    );
  });

  it('another volume key: PROTECTED_WRONG_KEY', () => {
    refused(SEALED, 'PROTECTED_WRONG_KEY', undefined, { ...OPEN, volumeKey: OTHER_KEY });
    const foreign = sealFile(PLAIN, { volumeKey: OTHER_KEY, path: PATH, version: 3, chunkSize: S }).sealed;
    refused(foreign, 'PROTECTED_WRONG_KEY');
  });

  it('names the volume path when no file name is given', () => {
    assert.throws(
      () => openFile(flip(SEALED, HEADER + 1), { volumeKey: KEY, path: PATH }),
      code('PROTECTED_INTEGRITY', { path: PATH, chunk: 0 }),
    );
  });
});
