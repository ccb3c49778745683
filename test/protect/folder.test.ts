import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, symlink, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hex } from '../../src/lib/bytes.js';
import { openFile, openFolder, sealFolder, type ProtectedEntry } from '../../src/protect/index.js';
import { HEADER, KEY, bytesOf, code, flip, tempDir, utf8 } from './helpers.js';

/** The plaintext folder every test seals: nested folders, an empty file, a multi-chunk file. */
const FILES: Record<string, Uint8Array> = {
  'main.py': utf8('print("hello")\n'),
  'lib/util.py': utf8('def f(): return 1\n'),
  'lib/deep/empty.txt': new Uint8Array(0),
  'models/weights.bin': bytesOf(200_000),
};

async function plainFolder(): Promise<string> {
  const dir = join(await tempDir(), 'plain');
  for (const [path, bytes] of Object.entries(FILES)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}

async function sealed(): Promise<{ dir: string; out: string; entries: ProtectedEntry[] }> {
  const dir = await plainFolder();
  const out = join(dir, '..', 'sealed');
  return {
    dir,
    out,
    entries: await sealFolder(dir, out, { volumeKey: KEY, version: (p) => (p === 'main.py' ? 4 : 1) }),
  };
}

const recordOf = (entries: ProtectedEntry[]) =>
  Object.fromEntries(entries.map((e) => [e.path, { version: e.version, root: e.root }]));

describe('protected folders', () => {
  it('seal every file to the same relative path and return its manifest', async () => {
    const { out, entries } = await sealed();
    assert.deepEqual(
      entries.map((e) => [e.path, e.version, e.size]),
      [
        ['lib/deep/empty.txt', 1, 0],
        ['lib/util.py', 1, FILES['lib/util.py']?.length],
        ['main.py', 4, FILES['main.py']?.length],
        ['models/weights.bin', 1, 200_000],
      ],
    );
    for (const e of entries) {
      const { plaintext, root, version } = openFile(new Uint8Array(await readFile(join(out, e.path))), {
        volumeKey: KEY,
        path: e.path,
      });
      assert.deepEqual(plaintext, FILES[e.path]);
      assert.equal(hex(root), e.root);
      assert.equal(version, BigInt(e.version));
    }
    assert.deepEqual(JSON.parse(JSON.stringify(entries)), entries, 'the manifest is JSON as it is');
  });

  it('open a sealed folder into private files, checked against the record', async () => {
    const { out, entries } = await sealed();
    const to = join(out, '..', 'opened');
    assert.deepEqual(await openFolder(out, to, { volumeKey: KEY, expected: recordOf(entries) }), entries);
    for (const [path, bytes] of Object.entries(FILES)) {
      assert.deepEqual(new Uint8Array(await readFile(join(to, path))), bytes);
      assert.equal((await stat(join(to, path))).mode & 0o777, 0o600);
    }
    assert.equal((await stat(join(to, 'lib/deep'))).mode & 0o777, 0o700);
    assert.deepEqual(await openFolder(out, undefined, { volumeKey: KEY }), entries, 'verify only');
  });

  it('refuse a folder whose files differ from the record: unrecorded, missing, older, another root', async () => {
    const { out, entries } = await sealed();
    const record = recordOf(entries);
    const { ['main.py']: _main, ...withoutMain } = record;
    await assert.rejects(
      openFolder(out, undefined, { volumeKey: KEY, expected: withoutMain }),
      code('PROTECTED_FILE_SET', { path: 'main.py' }),
    );
    await assert.rejects(
      openFolder(out, undefined, { volumeKey: KEY, expected: { ...record, 'extra.txt': { version: 1 } } }),
      code('PROTECTED_FILE_SET', { path: 'extra.txt' }),
    );
    await assert.rejects(
      openFolder(out, undefined, { volumeKey: KEY, expected: { ...record, 'main.py': { version: 5 } } }),
      code('PROTECTED_ROLLBACK', { path: join(out, 'main.py') }),
    );
    const other = entries.find((e) => e.path === 'lib/util.py')?.root ?? '';
    await assert.rejects(
      openFolder(out, undefined, { volumeKey: KEY, expected: { ...record, 'main.py': { root: other } } }),
      code('PROTECTED_INTEGRITY', { path: join(out, 'main.py') }),
    );
  });

  it('leave no plaintext of a file that fails, naming the file on disk and the chunk', async () => {
    const { out } = await sealed();
    const file = join(out, 'models/weights.bin');
    const bytes = new Uint8Array(await readFile(file));
    await writeFile(file, flip(bytes, HEADER + 2 * (65536 + 16) + 3));
    const to = join(out, '..', 'opened');
    await assert.rejects(
      openFolder(out, to, { volumeKey: KEY }),
      code('PROTECTED_INTEGRITY', { path: file, chunk: 2 }),
    );
    assert.deepEqual((await readdir(join(to, 'models'))).length, 0, 'neither the file nor a temporary copy');
  });

  it('refuse files swapped inside the sealed folder', async () => {
    const { out } = await sealed();
    await rename(join(out, 'lib/util.py'), join(out, 'tmp'));
    await rename(join(out, 'main.py'), join(out, 'lib/util.py'));
    await rename(join(out, 'tmp'), join(out, 'main.py'));
    await assert.rejects(openFolder(out, undefined, { volumeKey: KEY }), code('PROTECTED_WRONG_PATH'));
  });

  it('refuse symlinks instead of following them', async () => {
    const dir = await plainFolder();
    await symlink('/etc/hostname', join(dir, 'link'));
    await assert.rejects(
      sealFolder(dir, join(dir, '..', 'out'), { volumeKey: KEY }),
      code('PROTECTED_FILE_SET', { path: 'link' }),
    );
  });

  it('report I/O failures as IO naming the path', async () => {
    await assert.rejects(
      sealFolder('/nonexistent/folder', '/tmp/x', { volumeKey: KEY }),
      code('IO', { path: '/nonexistent/folder' }),
    );
  });
});
