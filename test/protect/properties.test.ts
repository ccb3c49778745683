import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { equal } from '../../src/lib/bytes.js';
import { CloisterError } from '../../src/lib/errors.js';
import { openFile, readHeader, sealFile } from '../../src/protect/index.js';
import { HEADER, KEY } from './helpers.js';

const PATH = 'models/weights.bin';

/** One change to a byte string, as fast-check draws it. */
type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'move'; from: number; to: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 100 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('move' as const),
    from: fc.nat(),
    to: fc.nat(),
    count: fc.integer({ min: 1, max: 200 }),
  }),
);

/** Applies `m` to `bytes` (positions taken modulo the length). */
function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const b = Buffer.from(bytes);
  switch (m.kind) {
    case 'flip': {
      const at = m.at % n;
      b[at] = (b[at] as number) ^ m.mask;
      return new Uint8Array(b);
    }
    case 'insert':
      return new Uint8Array(Buffer.concat([b.subarray(0, m.at % (n + 1)), m.bytes, b.subarray(m.at % (n + 1))]));
    case 'delete':
      return new Uint8Array(Buffer.concat([b.subarray(0, m.at % n), b.subarray((m.at % n) + m.count)]));
    case 'truncate':
      return new Uint8Array(b.subarray(0, m.at % n));
    case 'move': {
      const piece = b.subarray(m.from % n, (m.from % n) + m.count);
      const rest = Buffer.concat([b.subarray(0, m.from % n), b.subarray((m.from % n) + m.count)]);
      const to = m.to % (rest.length + 1);
      return new Uint8Array(Buffer.concat([rest.subarray(0, to), piece, rest.subarray(to)]));
    }
  }
}

/** Calls `fn`; anything thrown must be a CloisterError. Returns whether it threw. */
function throwsOnlyCloisterError(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    return true;
  }
}

describe('protected-file properties', () => {
  it('round-trips any plaintext at any chunk size, version and path', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.constantFrom(64, 128, 1024, 65536),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.array(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
        (plain, chunkSize, version, path) => {
          const { sealed, root } = sealFile(plain, { volumeKey: KEY, path, version, chunkSize });
          const opened = openFile(sealed, { volumeKey: KEY, path, expectedVersion: version, expectedRoot: root });
          assert.deepEqual(opened.plaintext, plain);
          assert.equal(opened.version, version);
          assert.equal(readHeader(sealed).length, plain.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('no mutation of a sealed file ever yields a different plaintext without an error (every change is refused)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom(64, 128),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (plain, chunkSize, mutations) => {
          const { sealed, root } = sealFile(plain, { volumeKey: KEY, path: PATH, version: 5, chunkSize });
          const changed = mutations.reduce(mutate, sealed);
          for (const options of [{}, { expectedRoot: root, expectedVersion: 5 }]) {
            let opened: Uint8Array | undefined;
            const threw = throwsOnlyCloisterError(() => {
              opened = openFile(changed, { volumeKey: KEY, path: PATH, ...options }).plaintext;
            });
            if (!threw) {
              assert.ok(opened !== undefined && equal(opened, plain), 'a changed file opened to another plaintext');
              assert.ok(equal(changed, sealed), 'a changed file opened at all');
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes only ever give a CloisterError, from readHeader and openFile', () => {
    const { sealed } = sealFile(new Uint8Array(100), { volumeKey: KEY, path: PATH, version: 1, chunkSize: 64 });
    const headerLike = fc
      .tuple(fc.uint8Array({ maxLength: 400 }), fc.nat({ max: HEADER }))
      .map(([tail, keep]) => new Uint8Array(Buffer.concat([sealed.subarray(0, keep), tail])));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), headerLike), (bytes) => {
        assert.ok(
          throwsOnlyCloisterError(() => openFile(bytes, { volumeKey: KEY, path: PATH })) || equal(bytes, sealed),
        );
        throwsOnlyCloisterError(() => readHeader(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});
