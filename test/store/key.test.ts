import assert from 'node:assert/strict';
import { lstat, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileStore, sealingKey } from '../../src/store/index.js';
import { code, tempDir, utf8 } from './helpers.js';

describe('sealingKey', () => {
  it('creates DIR/sealing.key (32 random bytes, mode 0600) once, then reuses it', async () => {
    const dir = await tempDir();
    const key = await sealingKey(dir);
    assert.equal(key.length, 32);
    const path = join(dir, 'sealing.key');
    assert.equal((await lstat(path)).mode & 0o777, 0o600);
    assert.deepEqual(new Uint8Array(await readFile(path)), key);
    assert.deepEqual(await sealingKey(dir), key);
    assert.deepEqual(await readdir(dir), ['sealing.key'], 'no temporary file left');
    assert.notDeepEqual(await sealingKey(await tempDir()), key, 'another directory, another key');
  });

  it('seals a store that a later process (a new key read) can open', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir, key: await sealingKey(dir) });
    await store.read();
    await store.write(utf8('state'));
    assert.deepEqual(await fileStore({ dir, key: await sealingKey(dir) }).read(), utf8('state'));
  });

  it('creates the directory when it is missing', async () => {
    const dir = join(await tempDir(), 'data', 'dir');
    assert.equal((await sealingKey(dir)).length, 32);
  });

  it('gives every concurrent caller the same key', async () => {
    const dir = await tempDir();
    const keys = await Promise.all(Array.from({ length: 16 }, () => sealingKey(dir)));
    for (const key of keys) assert.deepEqual(key, keys[0]);
    assert.deepEqual(await readdir(dir), ['sealing.key']);
  });

  it('refuses a key file of the wrong size with STATE_CORRUPT and never replaces it', async () => {
    for (const size of [0, 16, 31, 33, 64]) {
      const dir = await tempDir();
      const path = join(dir, 'sealing.key');
      const content = new Uint8Array(size).fill(9);
      await writeFile(path, content);
      await assert.rejects(sealingKey(dir), code('STATE_CORRUPT', path), `${size} bytes`);
      assert.deepEqual(new Uint8Array(await readFile(path)), content);
    }
  });

  it('reports I/O failures as STATE_IO with the path', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'file'), 'x');
    await assert.rejects(sealingKey(join(parent, 'file')), code('STATE_IO'));
  });
});
