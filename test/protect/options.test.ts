import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOpenStream, createSealStream, openFile, pathProblem, sealFile } from '../../src/protect/index.js';
import { KEY, code, utf8 } from './helpers.js';

const SEAL = { volumeKey: KEY, path: 'a', version: 1 };

/** Options refused at the boundary, each naming the option (PROTECTED_OPTIONS_INVALID). */
const BAD_SEAL_OPTIONS: [label: string, options: Record<string, unknown>, field: string][] = [
  ['a 16-byte key', { volumeKey: new Uint8Array(16) }, 'volumeKey'],
  ['a key that is not bytes', { volumeKey: 'k'.repeat(32) }, 'volumeKey'],
  ['an empty path', { path: '' }, 'path'],
  ['an absolute path', { path: '/etc/passwd' }, 'path'],
  ['a trailing slash', { path: 'a/' }, 'path'],
  ['a doubled slash', { path: 'a//b' }, 'path'],
  ['a dot segment', { path: 'a/./b' }, 'path'],
  ['a dot-dot segment', { path: '../b' }, 'path'],
  ['a NUL', { path: 'a\0b' }, 'path'],
  ['a lone surrogate', { path: 'a\ud800' }, 'path'],
  ['a path over 4096 bytes', { path: 'é'.repeat(2049) }, 'path'],
  ['a negative version', { version: -1 }, 'version'],
  ['a fractional version', { version: 1.5 }, 'version'],
  ['an unsafe number version', { version: 2 ** 53 }, 'version'],
  ['a version of 2^64', { version: 2n ** 64n }, 'version'],
  ['a chunk size of 32', { chunkSize: 32 }, 'chunkSize'],
  ['a chunk size not a power of two', { chunkSize: 1000 }, 'chunkSize'],
  ['a chunk size of 2^25', { chunkSize: 1 << 25 }, 'chunkSize'],
];

describe('protected-file options', () => {
  it('refuses malformed seal options, naming the option', () => {
    for (const [label, bad, field] of BAD_SEAL_OPTIONS) {
      const options = { ...SEAL, ...bad } as unknown as Parameters<typeof sealFile>[1];
      assert.throws(
        () => sealFile(utf8('x'), options),
        (e) => code('PROTECTED_OPTIONS_INVALID')(e) && (e as { field: string }).field === field,
        label,
      );
      assert.throws(() => createSealStream({ ...options, length: 1 }), code('PROTECTED_OPTIONS_INVALID'), label);
    }
  });

  it('refuses malformed open options', () => {
    const { sealed } = sealFile(utf8('x'), SEAL);
    assert.throws(
      () => openFile(sealed, { volumeKey: KEY, path: 'a', expectedRoot: new Uint8Array(31) }),
      code('PROTECTED_OPTIONS_INVALID'),
    );
    assert.throws(
      () => openFile(sealed, { volumeKey: KEY, path: 'a', expectedVersion: -1 }),
      code('PROTECTED_OPTIONS_INVALID'),
    );
    assert.throws(() => openFile(sealed, { volumeKey: KEY.subarray(1), path: 'a' }), code('PROTECTED_OPTIONS_INVALID'));
    assert.throws(() => createOpenStream({ volumeKey: KEY, path: '/a' }), code('PROTECTED_OPTIONS_INVALID'));
    assert.throws(
      () => openFile('not bytes' as unknown as Uint8Array, { volumeKey: KEY, path: 'a' }),
      code('PROTECTED_OPTIONS_INVALID'),
    );
    assert.throws(() => createSealStream({ ...SEAL, length: -1 }), code('PROTECTED_OPTIONS_INVALID'));
  });

  it('accepts the bounds and canonical paths', () => {
    for (const [path, version, chunkSize] of [
      ['a', 0, 64],
      ['a/b/c.txt', 2n ** 64n - 1n, 1 << 24],
      ['ünïcode/…/ 空白 .x', Number.MAX_SAFE_INTEGER, 4096],
    ] as const) {
      const { sealed } = sealFile(utf8(path), { volumeKey: KEY, path, version, chunkSize });
      assert.deepEqual(openFile(sealed, { volumeKey: KEY, path }).plaintext, utf8(path));
      assert.equal(pathProblem(path), undefined);
    }
  });

  it("does not keep a reference to the caller's key", async () => {
    const key = new Uint8Array(KEY);
    const { sealed } = sealFile(utf8('x'), SEAL);
    const stream = createOpenStream({ volumeKey: key, path: 'a' });
    key.fill(0);
    stream.resume();
    stream.end(sealed);
    assert.equal((await stream.result).length, 1);
  });
});
