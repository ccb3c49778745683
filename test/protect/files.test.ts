import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openFile, openToFile, sealFile, sealToFile } from '../../src/protect/index.js';
import { HEADER, KEY, TAG, bytesOf, code, flip, tempDir } from './helpers.js';

/** 2.5 MiB and 5 bytes: several 1 MiB reads, none aligned with a 65,552-byte sealed chunk. */
const PLAIN = bytesOf(5 * (1 << 19) + 5);
const O = { volumeKey: KEY, path: 'models/m.bin' };

describe('file-to-file sealing and opening', () => {
  it('seal a file that openFile opens, and open it back into a private file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'plain'), PLAIN);
    const sealed = await sealToFile(join(dir, 'plain'), join(dir, 'sealed'), { ...O, version: 2 });
    assert.deepEqual([sealed.version, sealed.length], [2n, PLAIN.length]);
    const bytes = new Uint8Array(await readFile(join(dir, 'sealed')));
    assert.deepEqual(openFile(bytes, { ...O, expectedRoot: sealed.root }).plaintext, PLAIN);
    const opened = await openToFile(join(dir, 'sealed'), join(dir, 'out/deep/plain'), {
      ...O,
      expectedVersion: 2,
      expectedRoot: sealed.root,
    });
    assert.deepEqual(opened, { version: 2n, root: sealed.root, length: PLAIN.length });
    assert.deepEqual(new Uint8Array(await readFile(join(dir, 'out/deep/plain'))), PLAIN);
    assert.equal((await stat(join(dir, 'out/deep/plain'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'out/deep'))).mode & 0o777, 0o700);
  });

  it('open what sealFile wrote, and only verify when there is no target', async () => {
    const dir = await tempDir();
    const { sealed, root } = sealFile(PLAIN, { ...O, version: 1, chunkSize: 4096 });
    await writeFile(join(dir, 'sealed'), sealed);
    assert.deepEqual(await openToFile(join(dir, 'sealed'), undefined, O), { version: 1n, root, length: PLAIN.length });
    assert.deepEqual(await readdir(dir), ['sealed']);
  });

  it('leave neither the target nor a temporary file when a chunk fails, naming the file and the chunk', async () => {
    const dir = await tempDir();
    const { sealed } = sealFile(PLAIN, { ...O, version: 1 });
    await writeFile(join(dir, 'sealed'), flip(sealed, HEADER + 30 * (65536 + TAG) + 9));
    await assert.rejects(
      openToFile(join(dir, 'sealed'), join(dir, 'plain'), O),
      code('PROTECTED_INTEGRITY', { chunk: 30, path: join(dir, 'sealed') }),
    );
    await assert.rejects(
      openToFile(join(dir, 'sealed'), join(dir, 'plain'), { ...O, fileName: 'vol/models/m.bin' }),
      code('PROTECTED_INTEGRITY', { path: 'vol/models/m.bin' }),
    );
    await writeFile(join(dir, 'short'), sealed.subarray(0, sealed.length - 1));
    await assert.rejects(
      openToFile(join(dir, 'short'), join(dir, 'plain'), O),
      code('PROTECTED_TRUNCATED', { chunk: 40 }),
    );
    assert.deepEqual((await readdir(dir)).sort(), ['sealed', 'short']);
  });

  it('report I/O failures as IO naming the file', async () => {
    const dir = await tempDir();
    await assert.rejects(
      sealToFile(join(dir, 'missing'), join(dir, 'out'), { ...O, version: 1 }),
      code('IO', { path: join(dir, 'missing') }),
    );
    await assert.rejects(openToFile(join(dir, 'missing'), undefined, O), code('IO'));
    await writeFile(join(dir, 'plain'), PLAIN);
    await assert.rejects(
      sealToFile(join(dir, 'plain'), join(dir, 'plain', 'x'), { ...O, version: 1 }),
      code('IO', { path: join(dir, 'plain', 'x') }),
    );
  });
});
