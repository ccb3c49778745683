import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockDataDir, underLock } from '../../src/store/index.js';
import { CloisterError } from '../../src/lib/errors.js';
import { tempDir } from '../e2e/harness.js';

const refusedAsLocked = (e: unknown) => e instanceof CloisterError && e.code === 'STATE_LOCKED';

test('a data directory is held by one owner: a second lock is STATE_LOCKED until the first is released', async () => {
  const dir = join(tempDir('lock'), 'data');
  const first = await lockDataDir(dir);
  await assert.rejects(lockDataDir(dir), refusedAsLocked);
  await first.release();
  const again = await lockDataDir(dir);
  await again.release();
});

test('another path to the same folder (a symlink) finds the same lock', async () => {
  const base = tempDir('lock-alias');
  const dir = join(base, 'data');
  mkdirSync(dir);
  symlinkSync(dir, join(base, 'alias'));
  const first = await lockDataDir(dir);
  await assert.rejects(lockDataDir(join(base, 'alias')), refusedAsLocked);
  await first.release();
});

test('underLock releases the lock when the service fails to start, and after close() otherwise', async () => {
  const dir = join(tempDir('lock-under'), 'data');
  await assert.rejects(
    underLock(dir, () => Promise.reject(new CloisterError('STATE_CORRUPT', 'unreadable'))),
    (e: unknown) => e instanceof CloisterError && e.code === 'STATE_CORRUPT',
  );
  const running = await underLock(dir, async () => ({ close: async () => {} }));
  await assert.rejects(lockDataDir(dir), refusedAsLocked);
  await running.close();
  await (await lockDataDir(dir)).release();
});
