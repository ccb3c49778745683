import assert from 'node:assert/strict';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { createOpenStream, createSealStream, openFile, sealFile, type OpenOptions } from '../../src/protect/index.js';
import { HEADER, KEY, TAG, bytesOf, chunksOf, code, concat, flip } from './helpers.js';

const S = 64;
const PATH = 'data/db.bin';
const OPEN: OpenOptions = { volumeKey: KEY, path: PATH };

/** `bytes` cut at the given offsets into pieces (some of them empty). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
  return at.slice(1).map((end, i) => bytes.subarray(at[i] as number, end));
}

/** Writes `pieces` through `stream`; what came out, and the error the pipeline ended with (if any). */
async function run(stream: Transform, pieces: Uint8Array[]): Promise<{ out: Uint8Array; error: unknown }> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write: (c: Buffer, _e, done) => {
      out.push(c);
      done();
    },
  });
  let error: unknown;
  await pipeline(Readable.from(pieces.map((p) => Buffer.from(p))), stream, sink).catch((e: unknown) => {
    error = e;
  });
  return { out: new Uint8Array(Buffer.concat(out)), error };
}

/** The error `openFile` throws for `bytes`, or undefined. */
function bufferedError(bytes: Uint8Array, options: OpenOptions): CloisterError | undefined {
  try {
    openFile(bytes, options);
    return undefined;
  } catch (e) {
    if (e instanceof CloisterError) return e;
    throw e;
  }
}

const PLAIN = bytesOf(6 * S + 20);
const { sealed: SEALED, root: ROOT } = sealFile(PLAIN, { volumeKey: KEY, path: PATH, version: 3, chunkSize: S });
const CHUNKS = chunksOf(SEALED, S);

/** Changed files, each refused in the same way by the buffered and the streaming reader. */
const CHANGED: [label: string, bytes: Uint8Array, options: OpenOptions][] = [
  ['a flipped byte in chunk 3', flip(SEALED, HEADER + 3 * (S + TAG) + 5), OPEN],
  ['a flipped header byte', flip(SEALED, 60), OPEN],
  [
    'two chunks swapped',
    concat(SEALED.subarray(0, HEADER), CHUNKS[1] as Uint8Array, CHUNKS[0] as Uint8Array, ...CHUNKS.slice(2)),
    OPEN,
  ],
  ['the final chunk dropped', concat(SEALED.subarray(0, HEADER), ...CHUNKS.slice(0, -1)), OPEN],
  ['a chunk appended', concat(SEALED, CHUNKS[2] as Uint8Array), OPEN],
  ['half a header', SEALED.subarray(0, 70), OPEN],
  ['another path', SEALED, { ...OPEN, path: 'data/other.bin' }],
  ['an older version', SEALED, { ...OPEN, expectedVersion: 4 }],
  ['another root', SEALED, { ...OPEN, expectedRoot: new Uint8Array(32) }],
  ['another key', SEALED, { ...OPEN, volumeKey: new Uint8Array(32) }],
];

describe('protected-file streams', () => {
  it('round-trip like the buffered functions, whatever the pieces (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 700 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(64, 128, 256),
        async (plain, sealCuts, openCuts, chunkSize) => {
          const seal = createSealStream({ volumeKey: KEY, path: PATH, version: 9n, chunkSize, length: plain.length });
          const sealed = await run(seal, split(plain, sealCuts));
          assert.equal(sealed.error, undefined);
          const { root, version, length } = await seal.result;
          assert.deepEqual([version, length], [9n, plain.length]);
          const buffered = openFile(sealed.out, { ...OPEN, expectedRoot: root });
          assert.deepEqual(buffered.plaintext, plain);
          const open = createOpenStream({ ...OPEN, expectedRoot: root, expectedVersion: 9 });
          const opened = await run(open, split(sealed.out, openCuts));
          assert.equal(opened.error, undefined);
          assert.deepEqual(opened.out, plain);
          assert.deepEqual(await open.result, { version: 9n, root, length: plain.length });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('open a file sealed by sealFile, one byte at a time', async () => {
    const open = createOpenStream({ ...OPEN, expectedRoot: ROOT });
    const { out, error } = await run(
      open,
      Array.from(SEALED, (b) => new Uint8Array([b])),
    );
    assert.equal(error, undefined);
    assert.deepEqual(out, PLAIN);
  });

  it("refuse every change with the buffered reader's error, in pieces of any size", async () => {
    for (const [label, bytes, options] of CHANGED) {
      const expected = bufferedError(bytes, options);
      assert.ok(expected, label);
      for (const cuts of [[], [1], [HEADER], [HEADER + 7, 200, 333], Array.from({ length: 40 }, (_, i) => i * 13)]) {
        const stream = createOpenStream(options);
        const { error } = await run(stream, split(bytes, cuts));
        assert.ok(error instanceof CloisterError, `${label}: ${String(error)}`);
        assert.deepEqual(
          [error.code, error.chunk, error.path, error.message],
          [expected.code, expected.chunk, expected.path, expected.message],
          label,
        );
        await assert.rejects(stream.result, (e) => e === error, label);
      }
    }
  });

  it('release only chunks that authenticated: a reader sees the chunks before a failure, never the failing one', async () => {
    for (const bad of [0, 3, 6]) {
      const { out, error } = await run(
        createOpenStream(OPEN),
        split(flip(SEALED, HEADER + bad * (S + TAG) + 1), [HEADER + bad * (S + TAG) + 30]),
      );
      assert.ok(code('PROTECTED_INTEGRITY', { chunk: bad })(error));
      assert.deepEqual(out, PLAIN.subarray(0, bad * S));
    }
  });

  it('detect truncation at the end of the stream, after releasing every complete chunk', async () => {
    const { out, error } = await run(createOpenStream(OPEN), [SEALED.subarray(0, HEADER + 6 * (S + TAG))]);
    assert.ok(code('PROTECTED_TRUNCATED', { chunk: 6, path: PATH })(error));
    assert.deepEqual(out, PLAIN.subarray(0, 6 * S));
  });

  it('refuse a seal input of another length than declared', async () => {
    for (const [length, given] of [
      [10, 11],
      [10, 9],
      [0, 1],
      [64, 0],
    ] as const) {
      const seal = createSealStream({ volumeKey: KEY, path: PATH, version: 1, chunkSize: S, length });
      const { error } = await run(seal, [bytesOf(given)]);
      assert.ok(code('PROTECTED_OPTIONS_INVALID')(error), `${length} declared, ${given} given`);
      await assert.rejects(seal.result, code('PROTECTED_OPTIONS_INVALID'));
    }
  });

  it('reject `result` when destroyed before the end, without an unhandled rejection when nobody awaits it', async () => {
    const open = createOpenStream(OPEN);
    open.write(SEALED.subarray(0, 100));
    open.destroy();
    await assert.rejects(open.result);
    createSealStream({ volumeKey: KEY, path: PATH, version: 1, length: 5 })
      .on('error', () => undefined)
      .destroy(new Error('gone'));
    await new Promise((resolve) => setImmediate(resolve));
  });
});
