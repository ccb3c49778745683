import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloisterError } from '../../src/lib/errors.js';
import { sealFolder } from '../../src/protect/index.js';
import type { FileRecord, VolumeGrant } from '../../src/protocol/index.js';
import { discard, finishCommit, sealChanges, unlockVolumes } from '../../src/run/volumes.js';
import { tempDir } from '../e2e/harness.js';

/**
 * The workload side of protected volumes on real files, with grants made here as the coordinator
 * would hand them out: which folders cloister run may fill and remove, what it finds changed,
 * how an interrupted run is recovered.
 */

const key = randomBytes(32);
const code = (c: string) => (e: unknown) => e instanceof CloisterError && e.code === c;

/** A working folder with a sealed volume of `files` and the grant naming them. */
async function volume(
  files: Record<string, string>,
  grant: Partial<VolumeGrant> = {},
): Promise<{ cwd: string; grant: VolumeGrant }> {
  const cwd = tempDir('run-volumes');
  const plain = join(cwd, 'source');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(plain, path, '..'), { recursive: true });
    writeFileSync(join(plain, path), text);
  }
  mkdirSync(plain, { recursive: true });
  const entries = await sealFolder(plain, join(cwd, 'data.sealed'), { volumeKey: key, version: 1 });
  const records: Record<string, FileRecord> = Object.fromEntries(
    entries.map(({ path, version, root }) => [path, { version, root }]),
  );
  return {
    cwd,
    grant: { mode: 'read-write', key, files: records, sealed: 'data.sealed', path: 'data', ...grant },
  };
}

test('unlock creates the plaintext folder, and discard removes it with everything in it', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha', 'deep/b.txt': 'beta' });
  const [unlocked] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(unlocked);
  assert.equal(readFileSync(join(cwd, 'data/deep/b.txt'), 'utf8'), 'beta');
  assert.equal(unlocked.created, true);
  await discard(unlocked);
  assert.equal(existsSync(join(cwd, 'data')), false);
});

test('a folder holding files cloister did not put there is refused and left as it was', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  mkdirSync(join(cwd, 'data'));
  writeFileSync(join(cwd, 'data/precious.db'), 'keep me');
  await assert.rejects(unlockVolumes({ data: grant }, cwd), code('VOLUME_FOLDER_IN_USE'));
  assert.deepEqual(readdirSync(join(cwd, 'data')), ['precious.db']);
  writeFileSync(join(cwd, 'file'), 'x');
  await assert.rejects(unlockVolumes({ data: { ...grant, path: 'file' } }, cwd), code('VOLUME_FOLDER_IN_USE'));
  assert.equal(readFileSync(join(cwd, 'file'), 'utf8'), 'x');
});

test('an empty folder it found is filled and emptied, not removed (it may be a mount point)', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  mkdirSync(join(cwd, 'data'));
  const [unlocked] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(unlocked);
  assert.equal(unlocked.created, false);
  await discard(unlocked);
  assert.deepEqual(readdirSync(join(cwd, 'data')), []);
});

test('the plaintext left by a killed run is recognised by its marker and replaced', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  await unlockVolumes({ data: grant }, cwd);
  writeFileSync(join(cwd, 'data/a.txt'), 'what the killed program wrote');
  // The run was killed: nothing was discarded. The next one starts over from the sealed files.
  const [again] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(again);
  assert.equal(readFileSync(join(cwd, 'data/a.txt'), 'utf8'), 'alpha');
  assert.equal(again.created, true, 'the first run created the folder, so the last one removes it');
  await discard(again);
  assert.equal(existsSync(join(cwd, 'data')), false);
});

test('the root, the working folder and its parents are refused as plaintext folders', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  for (const path of ['/', '.', cwd, join(cwd, '..')])
    await assert.rejects(unlockVolumes({ data: { ...grant, path } }, cwd), code('COORDINATOR_ERROR'), path);
  assert.ok(existsSync(join(cwd, 'data.sealed/a.txt')));
});

test('a change of the same size right after unlock is found; untouched files are not sealed again', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha', 'b.txt': 'bravo' });
  const [unlocked] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(unlocked);
  writeFileSync(join(cwd, 'data/a.txt'), 'ALPHA');
  writeFileSync(join(cwd, 'data/new.txt'), 'new');
  const changes = await sealChanges(unlocked);
  assert.deepEqual(
    changes.map(({ path, expectedVersion }) => [path, expectedVersion]),
    [
      ['a.txt', 1],
      ['new.txt', 0],
    ],
  );
  await finishCommit(
    unlocked,
    Object.fromEntries(changes.map((c) => [c.path, { version: c.expectedVersion + 1, root: c.root }])),
    changes,
  );
  await discard(unlocked);
  assert.deepEqual(readdirSync(join(cwd, 'data.sealed')).sort(), ['a.txt', 'b.txt', 'new.txt']);
});

test('a symlink the program leaves in a read-write volume is refused, not followed or skipped', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  const [unlocked] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(unlocked);
  symlinkSync('/etc/passwd', join(cwd, 'data/passwd'));
  await assert.rejects(sealChanges(unlocked), code('PROTECTED_FILE_SET'));
  await discard(unlocked);
});

test('a pending copy the coordinator recorded is put in place; others and partial writes are removed', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  const [first] = await unlockVolumes({ data: grant }, cwd);
  assert.ok(first);
  writeFileSync(join(cwd, 'data/a.txt'), 'committed');
  const [change] = await sealChanges(first);
  assert.ok(change);
  writeFileSync(join(cwd, 'data.sealed/.0123456789ab.cloister-partial'), 'cut short');
  await discard(first); // killed after the commit, before the rename
  const recorded = { ...grant, files: { 'a.txt': { version: 2, root: change.root } } };
  const [second] = await unlockVolumes({ data: recorded }, cwd);
  assert.ok(second);
  assert.equal(readFileSync(join(cwd, 'data/a.txt'), 'utf8'), 'committed');
  assert.deepEqual(readdirSync(join(cwd, 'data.sealed')), ['a.txt']);
  await discard(second);
  // The same pending copy when the commit was refused: the record still says version 1.
  const [third] = await unlockVolumes({ data: recorded }, cwd);
  assert.ok(third);
  writeFileSync(join(cwd, 'data/a.txt'), 'refused');
  await sealChanges(third);
  await discard(third);
  const [fourth] = await unlockVolumes({ data: recorded }, cwd);
  assert.ok(fourth);
  assert.equal(readFileSync(join(cwd, 'data/a.txt'), 'utf8'), 'committed');
  await discard(fourth);
});

test('a missing sealed folder is an empty volume only while the coordinator records no file', async () => {
  const { cwd, grant } = await volume({ 'a.txt': 'alpha' });
  const [empty] = await unlockVolumes({ data: { ...grant, sealed: 'nothing-yet', files: {} } }, cwd);
  assert.ok(empty);
  await discard(empty);
  await assert.rejects(unlockVolumes({ data: { ...grant, sealed: 'nothing-yet' } }, cwd), code('PROTECTED_FILE_SET'));
  assert.equal(existsSync(join(cwd, 'data')), false, 'nothing is left of a refused unlock');
});
