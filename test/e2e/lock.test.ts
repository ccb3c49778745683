import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { cloister, startCoordinator, tempDir } from './harness.js';

test('a second coordinator on the same --data-dir refuses to start; the first keeps serving; kill -9 frees the folder', async () => {
  const dir = tempDir('lock-e2e');
  const dataDir = join(dir, 'data');
  const simDir = join(dir, 'sim');
  const first = await startCoordinator(dataDir, simDir);
  try {
    await assert.rejects(startCoordinator(dataDir, simDir), /STATE_LOCKED/);
    const status = await cloister([
      'verify',
      '--coordinator',
      first.client,
      '--simulation',
      '--sim-dir',
      simDir,
      '--root-out',
      join(dir, 'root.pem'),
      '--json',
    ]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
  } finally {
    await first.stop('SIGKILL');
  }
  const next = await startCoordinator(dataDir, simDir);
  await next.stop();
});
