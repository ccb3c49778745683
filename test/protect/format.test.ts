import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { hex } from '../../src/lib/bytes.js';
import { sealParams } from '../../src/protect/lib/options.js';
import { FileSealer } from '../../src/protect/lib/sealer.js';
import {
  DEFAULT_CHUNK_SIZE,
  HEADER_LENGTH,
  openFile,
  readHeader,
  sealFile,
  sealedLength,
} from '../../src/protect/index.js';
import { HEADER, KEY, TAG, bytesOf, chunksOf, code, sealIndependently, utf8 } from './helpers.js';

const OPTIONS = { volumeKey: KEY, path: 'app/main.py', version: 7n, chunkSize: 64 } as const;
const saltOf = (sealed: Uint8Array) => sealed.slice(22, 54);
const withField = (sealed: Uint8Array, write: (b: Buffer) => void): Uint8Array => {
  const copy = Buffer.from(sealed);
  write(copy);
  return new Uint8Array(copy);
};

/** The known-answer vector of docs/protected-files.md, "Test vector". */
const VECTOR = {
  salt: Uint8Array.from({ length: 32 }, (_, i) => i + 1),
  header:
    '434c4f49535445522d50524f544543540100400000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2007000000000000009600000000000000990f7e4140fab1ad82afc787505090b64d4024e63a891405cd9085e7e6b249ddc7df79d45cc7c1e3e7ae327ba652815918b3328a1670fba484dfe6b39c873689edb4c73f8c0b0e4fc313ae9645fd1d2f',
  sealedSha256: '2242f7e858b49202a0d08be6605fb346d19b7e38de38673c24d9432216e780bb',
  root: '8751b139c9d262629c0775dd68569f4d8bd6126befaac32d368665f2a277d8bb',
};

describe('protected-file format', () => {
  it('reproduces the known-answer vector, as does the independent implementation', () => {
    const plaintext = bytesOf(150);
    const sealer = new FileSealer(sealParams(OPTIONS), plaintext.length, VECTOR.salt);
    const parts: Uint8Array[] = [sealer.header];
    sealer.write(plaintext, (b) => parts.push(b));
    const root = sealer.end((b) => parts.push(b));
    const sealed = new Uint8Array(Buffer.concat(parts));
    const theirs = sealIndependently(plaintext, { ...OPTIONS, salt: VECTOR.salt });
    for (const [bytes, r] of [
      [sealed, root],
      [theirs.sealed, theirs.root],
    ] as const) {
      assert.equal(hex(bytes.subarray(0, HEADER)), VECTOR.header);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), VECTOR.sealedSha256);
      assert.equal(hex(r), VECTOR.root);
      assert.equal(bytes.length, 348);
    }
    assert.equal(hex(openFile(sealed, OPTIONS).root), VECTOR.root);
  });

  it('writes exactly what docs/protected-files.md describes (an independent implementation agrees byte for byte)', () => {
    const plaintext = bytesOf(150);
    const ours = sealFile(plaintext, OPTIONS);
    const theirs = sealIndependently(plaintext, { ...OPTIONS, salt: saltOf(ours.sealed) });
    assert.deepEqual(ours.sealed, theirs.sealed);
    assert.deepEqual(ours.root, theirs.root);
    assert.equal(Buffer.from(ours.sealed.subarray(0, 16)).toString('ascii'), 'CLOISTER-PROTECT');
    assert.equal(ours.sealed.length, HEADER + 150 + 3 * TAG, 'three chunks: 64, 64 and 22 bytes');
  });

  it('opens a file written by the independent implementation, at every chunk size bound', () => {
    for (const chunkSize of [64, 128, 4096, DEFAULT_CHUNK_SIZE, 1 << 24]) {
      const plaintext = bytesOf(300, chunkSize);
      const { sealed, root } = sealIndependently(plaintext, { ...OPTIONS, chunkSize });
      const opened = openFile(sealed, { ...OPTIONS, expectedRoot: root, expectedVersion: 7 });
      assert.deepEqual(opened.plaintext, plaintext);
      assert.equal(opened.version, 7n);
      assert.deepEqual(opened.root, root);
    }
  });

  it('defines the empty file as a header and one empty final chunk', () => {
    const { sealed, root } = sealFile(new Uint8Array(0), OPTIONS);
    assert.equal(sealed.length, HEADER + TAG);
    assert.equal(sealedLength(0), 166);
    assert.equal(readHeader(sealed).chunkCount, 1);
    assert.deepEqual(sealIndependently(new Uint8Array(0), { ...OPTIONS, salt: saltOf(sealed) }).sealed, sealed);
    assert.deepEqual(openFile(sealed, { ...OPTIONS, expectedRoot: root }).plaintext, new Uint8Array(0));
  });

  it('gives a file of exactly k chunks k full chunks and no empty one after them', () => {
    for (const k of [1, 2, 5]) {
      const plaintext = bytesOf(k * 64, k);
      const { sealed } = sealFile(plaintext, OPTIONS);
      assert.equal(sealed.length, HEADER + k * (64 + TAG));
      assert.equal(sealed.length, sealedLength(k * 64, 64));
      assert.deepEqual(
        chunksOf(sealed, 64).map((c) => c.length),
        Array(k).fill(64 + TAG),
      );
      assert.equal(readHeader(sealed).chunkCount, k);
      assert.deepEqual(openFile(sealed, OPTIONS).plaintext, plaintext);
      const more = sealFile(bytesOf(k * 64 + 1), OPTIONS).sealed;
      assert.deepEqual(
        chunksOf(more, 64).map((c) => c.length),
        [...Array<number>(k).fill(64 + TAG), 1 + TAG],
        'one byte more: one more chunk',
      );
    }
  });

  it('reads the header without the key (unauthenticated)', () => {
    const { sealed } = sealFile(bytesOf(1000), { ...OPTIONS, version: 2n ** 64n - 1n });
    const h = readHeader(sealed);
    assert.equal(h.formatVersion, 1);
    assert.equal(h.chunkSize, 64);
    assert.equal(h.version, 2n ** 64n - 1n);
    assert.equal(h.length, 1000);
    assert.equal(h.chunkCount, 16);
    assert.equal(h.sealedLength, sealed.length);
    assert.equal(h.bytes.length, HEADER_LENGTH);
    assert.equal(h.salt.length, 32);
    assert.equal(h.keyId.length, 16);
  });

  it('refuses malformed headers, naming the field', () => {
    const { sealed } = sealFile(utf8('x'), OPTIONS);
    const cases: [string, Uint8Array, string, string][] = [
      ['short', sealed.subarray(0, 149), 'PROTECTED_TRUNCATED', 'header.mac'],
      ['empty', new Uint8Array(0), 'PROTECTED_TRUNCATED', 'header.magic'],
      [
        'magic',
        withField(sealed, (b) => b.write('CLOISTER-PROTECX', 0, 'ascii')),
        'PROTECTED_HEADER_INVALID',
        'header.magic',
      ],
      [
        'format version 2',
        withField(sealed, (b) => b.writeUInt16LE(2, 16)),
        'PROTECTED_HEADER_INVALID',
        'header.formatVersion',
      ],
      [
        'chunk size 32',
        withField(sealed, (b) => b.writeUInt32LE(32, 18)),
        'PROTECTED_HEADER_INVALID',
        'header.chunkSize',
      ],
      [
        'chunk size 100',
        withField(sealed, (b) => b.writeUInt32LE(100, 18)),
        'PROTECTED_HEADER_INVALID',
        'header.chunkSize',
      ],
      [
        'chunk size 2^25',
        withField(sealed, (b) => b.writeUInt32LE(1 << 25, 18)),
        'PROTECTED_HEADER_INVALID',
        'header.chunkSize',
      ],
      [
        'length 2^53',
        withField(sealed, (b) => b.writeBigUInt64LE(2n ** 53n, 62)),
        'PROTECTED_HEADER_INVALID',
        'header.length',
      ],
    ];
    for (const [label, bytes, expected, field] of cases) {
      assert.throws(
        () => readHeader(bytes),
        (e) => code(expected)(e) && (e as { field: string }).field === field,
        label,
      );
      assert.throws(() => openFile(bytes, OPTIONS), code(expected, { path: 'app/main.py' }), label);
    }
  });

  it('encrypts the same content twice to different bytes and roots, both authentic', () => {
    const plaintext = bytesOf(500);
    const a = sealFile(plaintext, OPTIONS);
    const b = sealFile(plaintext, OPTIONS);
    assert.notDeepEqual(a.sealed.subarray(HEADER), b.sealed.subarray(HEADER));
    assert.notDeepEqual(a.root, b.root);
    assert.deepEqual(openFile(a.sealed, OPTIONS).plaintext, plaintext);
    assert.deepEqual(openFile(b.sealed, OPTIONS).plaintext, plaintext);
  });

  it('returns plain Uint8Arrays that own their memory', () => {
    const { sealed, root } = sealFile(utf8('secret'), OPTIONS);
    const { plaintext } = openFile(sealed, OPTIONS);
    for (const bytes of [sealed, root, plaintext]) assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
    assert.equal(plaintext.buffer.byteLength, plaintext.length, 'not a view into a shared pool');
    assert.equal(sealed.buffer.byteLength, sealed.length);
  });
});
