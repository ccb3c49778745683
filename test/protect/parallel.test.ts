import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Executors, openWith, sealWith } from '../../src/protect/io/files.js';
import { openFile, openFolder, openToFile, sealFile, sealFolder, sealToFile } from '../../src/protect/index.js';
import { readHeader } from '../../src/protect/format.js';
import { verifyHeader } from '../../src/protect/lib/opener.js';
import { openParams } from '../../src/protect/lib/options.js';
import { ChunkPool } from '../../src/protect/io/pool.js';
import { openRun, runSpan, runsOf, sealRun } from '../../src/protect/lib/runs.js';
import { HEADER, KEY, TAG, bytesOf, chunksOf, code, flip, sealIndependently, tempDir } from './helpers.js';

/**
 * The parallel file-to-file path (runs of chunks on worker threads) against the serial one and
 * the independent implementation: the same bytes, the same errors naming the same chunk, and
 * nothing unauthenticated left behind.
 */

/** 2.5 MiB and 5 bytes: three runs of 1 MiB, the last one short. */
const PLAIN = bytesOf(5 * (1 << 19) + 5);
const O = { volumeKey: KEY, path: 'models/m.bin' };
const SALT = new Uint8Array(32).fill(9);

/** Executors that put every file on `threads` threads, however small, in runs of 1 MiB; closed when the test file ends. */
function threaded(threads: number): Executors {
  const e = new Executors(threads, 0, 1 << 20);
  after(() => e.close());
  return e;
}

describe('sealing and opening runs of chunks', () => {
  it('gives the bytes and tags of the independent implementation, into a buffer or piece by piece, for every run size and edge length', () => {
    for (const [length, s] of [
      [0, 64],
      [1, 64],
      [64, 64],
      [65, 64],
      [64 * 7, 64],
      [1000, 128],
    ] as const) {
      const plain = bytesOf(length, 3);
      const { sealed } = sealIndependently(plain, { ...O, version: 5n, chunkSize: s, salt: SALT });
      const ctx = verifyHeader(openParams(O), readHeader(sealed));
      for (const perRun of [1, 2, 3, 100]) {
        const out = new Uint8Array(sealed.length - HEADER);
        const back = new Uint8Array(length);
        const pieces: { sealed: Buffer[]; plain: Buffer[] } = { sealed: [], plain: [] };
        const tags: Uint8Array[] = [];
        for (const run of runsOf(ctx, perRun)) {
          const { plain: p, sealed: z } = runSpan(ctx, run);
          const input = {
            plain: plain.subarray(p.offset, p.offset + p.length),
            sealed: sealed.subarray(z.offset, z.offset + z.length),
          };
          const sealedTags = sealRun(
            ctx,
            run,
            input.plain,
            out.subarray(z.offset - HEADER, z.offset - HEADER + z.length),
          );
          assert.deepEqual(
            sealRun(ctx, run, input.plain, (piece) => void pieces.sealed.push(piece)).map((t) => Buffer.from(t)),
            sealedTags.map((t) => Buffer.from(t)),
          );
          tags.push(...openRun(ctx, run, input.sealed, back.subarray(p.offset, p.offset + p.length)));
          openRun(ctx, run, input.sealed, (piece) => void pieces.plain.push(piece));
        }
        assert.deepEqual(out, sealed.subarray(HEADER), `length ${length}, chunk size ${s}, ${perRun} per run`);
        assert.deepEqual(new Uint8Array(Buffer.concat(pieces.sealed)), sealed.subarray(HEADER));
        assert.deepEqual(back, plain);
        assert.deepEqual(new Uint8Array(Buffer.concat(pieces.plain)), plain);
        assert.deepEqual(
          tags.map((t) => Buffer.from(t)),
          chunksOf(sealed, s).map((c) => Buffer.from(c.subarray(c.length - TAG))),
        );
      }
    }
  });

  it('names the chunk that fails, counted in the file', () => {
    const { sealed } = sealIndependently(bytesOf(64 * 10), { ...O, version: 1n, chunkSize: 64, salt: SALT });
    const ctx = verifyHeader(openParams({ ...O, fileName: 'f' }), readHeader(sealed));
    const run = { first: 4, count: 3 };
    const { sealed: z } = runSpan(ctx, run);
    const bad = flip(sealed, HEADER + 5 * (64 + TAG) + 3).subarray(z.offset, z.offset + z.length);
    assert.throws(
      () => openRun(ctx, run, bad, new Uint8Array(3 * 64)),
      code('PROTECTED_INTEGRITY', { chunk: 5, path: 'f' }),
    );
  });
});

describe('file-to-file on worker threads', () => {
  it('seals byte for byte as on the calling thread and as the independent implementation', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'plain'), PLAIN);
    for (const chunkSize of [4096, 65536]) {
      const serial = await sealWith(
        threaded(0),
        join(dir, 'plain'),
        join(dir, 'serial'),
        { ...O, version: 3, chunkSize },
        SALT,
      );
      const parallel = await sealWith(
        threaded(2),
        join(dir, 'plain'),
        join(dir, 'parallel'),
        { ...O, version: 3, chunkSize },
        SALT,
      );
      const expected = sealIndependently(PLAIN, { ...O, version: 3n, chunkSize, salt: SALT });
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'parallel'))), expected.sealed);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'serial'))), expected.sealed);
      assert.deepEqual(parallel, serial);
      assert.deepEqual(parallel.root, expected.root);
    }
  });

  it("opens what sealFile wrote, with the serial path's version and root, for 1 to 3 threads", async () => {
    const dir = await tempDir();
    const { sealed, root } = sealFile(PLAIN, { ...O, version: 4 });
    await writeFile(join(dir, 'sealed'), sealed);
    for (const threads of [1, 2, 3]) {
      const out = join(dir, `plain-${threads}`);
      assert.deepEqual(
        await openWith(threaded(threads), join(dir, 'sealed'), out, { ...O, expectedRoot: root, expectedVersion: 4 }),
        { version: 4n, root, length: PLAIN.length },
      );
      assert.deepEqual(new Uint8Array(await readFile(out)), PLAIN);
    }
    // The public functions, on threads by default for a file this large.
    const big = bytesOf(9 << 20, 5);
    await writeFile(join(dir, 'big'), big);
    const { root: bigRoot } = await sealToFile(join(dir, 'big'), join(dir, 'big.sealed'), {
      ...O,
      version: 1,
      threads: 2,
    });
    await openToFile(join(dir, 'big.sealed'), join(dir, 'big.out'), { ...O, expectedRoot: bigRoot, threads: 2 });
    assert.deepEqual(new Uint8Array(await readFile(join(dir, 'big.out'))), big);
  });

  it('a flipped byte in chunk N: PROTECTED_INTEGRITY naming the file and chunk N, nothing left behind', async () => {
    const dir = await tempDir();
    const { sealed } = sealFile(PLAIN, { ...O, version: 1, chunkSize: 4096 });
    const n = Math.ceil(PLAIN.length / 4096);
    // The first and last chunk, the edges of the 1 MiB runs (256 chunks), one inside a run, ciphertext and tag.
    for (const [chunk, at] of [
      [0, 0],
      [255, 4095],
      [256, 0],
      [257, 4096 + 3],
      [400, 17],
      [n - 1, 2],
    ] as const) {
      await writeFile(join(dir, 'sealed'), flip(sealed, HEADER + chunk * (4096 + TAG) + at));
      for (const threads of [0, 2]) {
        await assert.rejects(
          openWith(threaded(threads), join(dir, 'sealed'), join(dir, 'plain'), { ...O, fileName: 'vol/m.bin' }),
          code('PROTECTED_INTEGRITY', { chunk, path: 'vol/m.bin' }),
          `chunk ${chunk}, ${threads} threads`,
        );
        assert.deepEqual(await readdir(dir), ['sealed']);
      }
    }
    // Two changed chunks in different runs: the first in the file is reported.
    await writeFile(join(dir, 'sealed'), flip(flip(sealed, HEADER + 600 * (4096 + TAG)), HEADER + 300 * (4096 + TAG)));
    await assert.rejects(
      openWith(threaded(2), join(dir, 'sealed'), join(dir, 'plain'), O),
      code('PROTECTED_INTEGRITY', { chunk: 300 }),
    );
  });

  it('a truncated or extended file: the chunk the serial path names', async () => {
    const dir = await tempDir();
    const { sealed } = sealFile(PLAIN, { ...O, version: 1 });
    const cases: [Uint8Array, string, number][] = [
      [sealed.subarray(0, sealed.length - 1), 'PROTECTED_TRUNCATED', 40],
      [sealed.subarray(0, HEADER + 20 * (65536 + TAG)), 'PROTECTED_TRUNCATED', 20],
      [sealed.subarray(0, HEADER + 20 * (65536 + TAG) + 7), 'PROTECTED_TRUNCATED', 20],
      [Buffer.concat([sealed, randomBytes(3)]), 'PROTECTED_INTEGRITY', 41],
      [flip(sealed.subarray(0, HEADER + 30 * (65536 + TAG)), HEADER + 12 * (65536 + TAG)), 'PROTECTED_INTEGRITY', 12],
    ];
    for (const [bytes, expected, chunk] of cases) {
      await writeFile(join(dir, 'sealed'), bytes);
      assert.throws(() => openFile(bytes, O), code(expected, { chunk }));
      for (const threads of [0, 2])
        await assert.rejects(
          openWith(threaded(threads), join(dir, 'sealed'), join(dir, 'plain'), O),
          code(expected, { chunk }),
        );
      assert.deepEqual(await readdir(dir), ['sealed']);
    }
  });

  it('folders share one pool of threads', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a'), PLAIN);
    await writeFile(join(dir, 'b'), bytesOf(9 << 20, 7));
    const entries = await sealFolder(dir, join(dir, '..', `${dir.split('/').pop() ?? ''}.sealed`), {
      volumeKey: KEY,
      threads: 2,
    });
    const opened = await openFolder(join(dir, '..', `${dir.split('/').pop() ?? ''}.sealed`), undefined, {
      volumeKey: KEY,
      threads: 2,
      expected: Object.fromEntries(entries.map((e) => [e.path, e])),
    });
    assert.deepEqual(opened, entries);
    after(() => import('node:fs/promises').then((fs) => fs.rm(`${dir}.sealed`, { recursive: true, force: true })));
  });

  it('refuses a thread count that is not an integer from 0 to 16', async () => {
    for (const threads of [-1, 1.5, 17, Number.NaN]) {
      await assert.rejects(openToFile('/nonexistent', undefined, { ...O, threads }), code('PROTECTED_OPTIONS_INVALID'));
    }
  });

  it('a pool reads, seals or opens and writes runs, names a failing chunk, and once closed fails its jobs as IO naming the file', async () => {
    const dir = await tempDir();
    const pool = new ChunkPool(1);
    const { sealed } = sealIndependently(bytesOf(100), { ...O, version: 1n, chunkSize: 64, salt: SALT });
    const ctx = verifyHeader(openParams({ ...O, fileName: 'f' }), readHeader(sealed));
    const run = { first: 0, count: 2 };
    const tags = Buffer.concat(chunksOf(sealed, 64).map((c) => c.subarray(c.length - TAG)));
    await writeFile(join(dir, 'sealed'), sealed);
    await writeFile(join(dir, 'bad'), flip(sealed, HEADER + 64 + TAG + 1));
    await writeFile(join(dir, 'plain'), bytesOf(100));
    const fds = ['sealed', 'bad', 'plain'].map((name) => openSync(join(dir, name), 'r'));
    const [sealedFd, badFd, plainFd] = fds as [number, number, number];
    const outFd = openSync(join(dir, 'out'), 'w+');
    try {
      assert.deepEqual(Buffer.from(await pool.run({ op: 'open', ctx, run, source: sealedFd, target: outFd })), tags);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'out'))), bytesOf(100));
      assert.deepEqual(Buffer.from(await pool.run({ op: 'seal', ctx, run, source: plainFd, target: outFd })), tags);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'out'))).subarray(HEADER), sealed.subarray(HEADER));
      await assert.rejects(
        pool.run({ op: 'open', ctx, run, source: badFd, target: undefined }),
        code('PROTECTED_INTEGRITY', { path: 'f', chunk: 1 }),
      );
      // A descriptor that is not open: the thread's I/O error, as IO naming the file.
      await assert.rejects(
        pool.run({ op: 'open', ctx, run, source: 1 << 20, target: undefined }),
        code('IO', { path: 'f' }),
      );
      assert.deepEqual(
        Buffer.from(await pool.run({ op: 'open', ctx, run, source: sealedFd, target: undefined })),
        tags,
        'the thread still works',
      );
      await pool.close();
      await assert.rejects(
        pool.run({ op: 'open', ctx, run, source: sealedFd, target: undefined }),
        code('IO', { path: 'f' }),
      );
    } finally {
      await pool.close();
      for (const fd of [...fds, outFd]) closeSync(fd);
    }
  });
});
