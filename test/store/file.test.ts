import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fileStore } from '../../src/store/index.js';
import { KEY, code, generationOf, sealIndependently, tempDir, utf8 } from './helpers.js';

const STATE = utf8('{"manifest":"m","secrets":{"a":"b"}}');
/** The regions of a state file holding `STATE` (36-byte header, ciphertext, 16-byte tag). */
const REGIONS: [string, number, number][] = [
  ['magic', 0, 14],
  ['version', 14, 16],
  ['generation', 16, 24],
  ['nonce', 24, 36],
  ['ciphertext', 36, 36 + STATE.length],
  ['tag', 36 + STATE.length, 52 + STATE.length],
];

/** A directory holding a state file with STATE, and that file's path. */
async function withState(): Promise<{ dir: string; file: string; bytes: Uint8Array }> {
  const dir = await tempDir();
  const store = fileStore({ dir, key: KEY });
  assert.equal(await store.read(), undefined);
  await store.write(STATE);
  const file = join(dir, 'state.sealed');
  return { dir, file, bytes: new Uint8Array(await readFile(file)) };
}

describe('fileStore', () => {
  it('reads undefined before anything is written, then what was written, from any store object', async () => {
    const dir = await tempDir();
    const a = fileStore({ dir, key: KEY });
    assert.equal(await a.read(), undefined);
    await a.write(STATE);
    assert.deepEqual(await a.read(), STATE);
    await a.write(utf8('second'));
    const b = fileStore({ dir, key: new Uint8Array(KEY) });
    assert.deepEqual(await b.read(), utf8('second'));
    await b.write(new Uint8Array());
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), new Uint8Array());
  });

  it('writes the documented format: readable by an independent implementation, and the other way round', async () => {
    const { dir, file, bytes } = await withState();
    assert.equal(bytes.length, 36 + STATE.length + 16);
    assert.equal(Buffer.from(bytes.subarray(0, 14)).toString('ascii'), 'CLOISTER-STATE');
    assert.deepEqual([...bytes.subarray(14, 16)], [1, 0]);
    assert.equal(
      sealIndependently(KEY, STATE, { generation: 1n, nonce: bytes.subarray(24, 36) }).toString(),
      bytes.toString(),
    );
    await writeFile(file, sealIndependently(KEY, utf8('from outside'), { generation: 7n }));
    const store = fileStore({ dir, key: KEY });
    assert.deepEqual(await store.read(), utf8('from outside'));
    await store.write(STATE);
    assert.equal(generationOf(await readFile(file)), 8n, 'continues from the generation it read');
  });

  it('increases the generation by one per write, with a fresh nonce each time', async () => {
    const { dir, file } = await withState();
    const store = fileStore({ dir, key: KEY });
    await store.read();
    const nonces = new Set<string>();
    for (let i = 2n; i <= 5n; i++) {
      await store.write(STATE);
      const bytes = await readFile(file);
      assert.equal(generationOf(bytes), i);
      nonces.add(bytes.subarray(24, 36).toString('hex'));
    }
    assert.equal(nonces.size, 4);
  });

  it('keeps the file private (0600) and leaves no temporary file behind', async () => {
    const { dir, file } = await withState();
    assert.equal((await lstat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['state.sealed']);
  });

  it('runs concurrent writes one after another; the last one wins', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir, key: KEY });
    await store.read();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write(utf8(`state ${i}`))));
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), utf8('state 19'));
    assert.equal(generationOf(await readFile(join(dir, 'state.sealed'))), 20n);
  });

  it('stores the bytes passed, not what the caller later puts in its buffer', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir, key: KEY });
    await store.read();
    const buffer = utf8('original');
    const written = store.write(buffer);
    buffer.fill(0);
    await written;
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), utf8('original'));
  });

  it('refuses to write before reading an existing state (STATE_CONFLICT), and writes after reading', async () => {
    const { dir, file, bytes } = await withState();
    const store = fileStore({ dir, key: KEY });
    await assert.rejects(store.write(utf8('blind')), code('STATE_CONFLICT', file));
    assert.deepEqual(new Uint8Array(await readFile(file)), bytes);
    assert.deepEqual(await store.read(), STATE);
    await store.write(utf8('informed'));
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), utf8('informed'));
  });

  for (const [region, start, end] of REGIONS) {
    it(`refuses a state file with any byte of its ${region} changed: STATE_CORRUPT, file untouched, writes refused`, async () => {
      const { dir, file, bytes } = await withState();
      for (let i = start; i < end; i++) {
        const tampered = Uint8Array.from(bytes);
        tampered[i] = (tampered[i] as number) ^ (i % 2 === 0 ? 0x01 : 0x80);
        await writeFile(file, tampered);
        const store = fileStore({ dir, key: KEY });
        await assert.rejects(store.read(), code('STATE_CORRUPT', file), `${region} byte ${i}`);
        await assert.rejects(
          store.write(STATE),
          code('STATE_CORRUPT', file),
          `${region} byte ${i}: write after a corrupt read`,
        );
        assert.deepEqual(new Uint8Array(await readFile(file)), tampered, `${region} byte ${i}: file left as it was`);
      }
    });
  }

  it('names what is wrong: magic, version, truncation or authentication', async () => {
    const { dir, file, bytes } = await withState();
    const fieldOf = async (content: Uint8Array) => {
      await writeFile(file, content);
      try {
        await fileStore({ dir, key: KEY }).read();
      } catch (e) {
        assert.ok(code('STATE_CORRUPT', file)(e));
        return [(e as { field: string }).field, (e as Error).message.startsWith(`${file}: `)];
      }
      assert.fail('read succeeded');
    };
    assert.deepEqual(await fieldOf(utf8('NOT-A-STATE-FILE-AT-ALL-0123456789012345678901234567')), [
      'header.magic',
      true,
    ]);
    assert.deepEqual(await fieldOf(sealIndependently(KEY, STATE, { version: 2 })), ['header.version', true]);
    assert.deepEqual(await fieldOf(bytes.subarray(0, 20)), ['header.generation', true]);
    assert.deepEqual(await fieldOf(bytes.subarray(0, 40)), ['tag', true]);
    assert.deepEqual(await fieldOf(Uint8Array.from(bytes, (b, i) => (i === bytes.length - 1 ? b ^ 1 : b))), [
      'tag',
      true,
    ]);
  });

  it('refuses a state file truncated anywhere, or with bytes appended', async () => {
    const { dir, file, bytes } = await withState();
    for (const length of [0, 1, 13, 14, 15, 16, 23, 24, 35, 36, 37, 51, 52, bytes.length - 16, bytes.length - 1]) {
      await writeFile(file, bytes.subarray(0, length));
      await assert.rejects(fileStore({ dir, key: KEY }).read(), code('STATE_CORRUPT', file), `truncated to ${length}`);
    }
    await writeFile(file, new Uint8Array([...bytes, 0]));
    await assert.rejects(fileStore({ dir, key: KEY }).read(), code('STATE_CORRUPT', file), 'a byte appended');
  });

  it('refuses a state file sealed under another key, and then refuses to write over it', async () => {
    const { dir, file, bytes } = await withState();
    const store = fileStore({ dir, key: new Uint8Array(32).fill(0x43) });
    await assert.rejects(store.read(), code('STATE_CORRUPT', file));
    await assert.rejects(store.write(STATE), code('STATE_CORRUPT', file));
    await assert.rejects(store.read(), code('STATE_CORRUPT', file));
    assert.deepEqual(new Uint8Array(await readFile(file)), bytes);
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), STATE, 'the right key still reads it');
  });

  it('stays refusing writes after a corrupt read even once the file is repaired, until a new store is made', async () => {
    const { dir, file, bytes } = await withState();
    await writeFile(file, bytes.subarray(0, 30));
    const store = fileStore({ dir, key: KEY });
    await assert.rejects(store.read(), code('STATE_CORRUPT'));
    await writeFile(file, bytes);
    assert.deepEqual(await store.read(), STATE);
    await assert.rejects(store.write(STATE), code('STATE_CORRUPT', file));
    const fresh = fileStore({ dir, key: KEY });
    assert.deepEqual(await fresh.read(), STATE);
    await fresh.write(utf8('fixed'));
  });

  it('notices a rollback or removal of the file behind its back (STATE_CORRUPT)', async () => {
    const { dir, file, bytes } = await withState();
    const store = fileStore({ dir, key: KEY });
    await store.read();
    await store.write(utf8('generation 2'));
    await writeFile(file, bytes);
    await assert.rejects(store.read(), code('STATE_CORRUPT', file));
    await assert.rejects(store.write(STATE), code('STATE_CORRUPT', file));

    const other = await withState();
    const watcher = fileStore({ dir: other.dir, key: KEY });
    await watcher.read();
    await rm(other.file);
    await assert.rejects(watcher.read(), code('STATE_CORRUPT', other.file));
  });

  it('ignores a leftover state.sealed.tmp, and replaces it on the next write', async () => {
    const { dir, file } = await withState();
    const tmp = `${file}.tmp`;
    await writeFile(tmp, utf8('half-written garbage from a crash'));
    const store = fileStore({ dir, key: KEY });
    assert.deepEqual(await store.read(), STATE);
    await store.write(utf8('next'));
    assert.deepEqual(await readdir(dir), ['state.sealed']);
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), utf8('next'));
  });

  it('does not follow a link planted at state.sealed.tmp', async () => {
    const { dir, file } = await withState();
    const victim = join(await tempDir(), 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, `${file}.tmp`);
    const store = fileStore({ dir, key: KEY });
    await store.read();
    await store.write(utf8('next'));
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    assert.ok((await lstat(file)).isFile());
  });

  it('creates a missing data directory on the first write', async () => {
    const dir = join(await tempDir(), 'a', 'b');
    const store = fileStore({ dir, key: KEY });
    assert.equal(await store.read(), undefined);
    await store.write(STATE);
    assert.deepEqual(await fileStore({ dir, key: KEY }).read(), STATE);
  });

  it('reports I/O failures as STATE_IO with the path', async () => {
    const parent = await tempDir();
    const notADir = join(parent, 'file');
    await writeFile(notADir, 'x');
    const store = fileStore({ dir: notADir, key: KEY });
    await assert.rejects(store.read(), code('STATE_IO', join(notADir, 'state.sealed')));
    const dirAsFile = join(parent, 'd');
    await mkdir(join(dirAsFile, 'state.sealed'), { recursive: true });
    await assert.rejects(
      fileStore({ dir: dirAsFile, key: KEY }).read(),
      code('STATE_IO', join(dirAsFile, 'state.sealed')),
    );
    const under = join(notADir, 'sub');
    await assert.rejects(fileStore({ dir: under, key: KEY }).read(), code('STATE_IO', join(under, 'state.sealed')));
    await assert.rejects(
      fileStore({ dir: under, key: KEY }).write(STATE),
      code('STATE_IO', join(under, 'state.sealed')),
    );
  });

  it('refuses a sealing key that is not 32 bytes (STATE_KEY_INVALID)', () => {
    for (const key of [new Uint8Array(31), new Uint8Array(33), new Uint8Array()])
      assert.throws(() => fileStore({ dir: '/nonexistent', key }), code('STATE_KEY_INVALID'));
  });

  it('property: arbitrary bytes as the state file only ever give STATE_CORRUPT, and leave it untouched', async () => {
    const { dir, file, bytes } = await withState();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 128 }),
          fc
            .tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }))
            .map(([i, x]) => Uint8Array.from(bytes, (b, j) => (j === i ? b ^ x : b))),
        ),
        async (content) => {
          await writeFile(file, content);
          const store = fileStore({ dir, key: KEY });
          await assert.rejects(store.read(), code('STATE_CORRUPT', file));
          await assert.rejects(store.write(STATE), code('STATE_CORRUPT', file));
          assert.deepEqual(new Uint8Array(await readFile(file)), content);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: any state round-trips', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir, key: KEY });
    await store.read();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (state) => {
        await store.write(state);
        assert.deepEqual(await fileStore({ dir, key: KEY }).read(), state);
      }),
      { numRuns: 50 },
    );
  });
});
