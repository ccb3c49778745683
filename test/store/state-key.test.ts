import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileStore, openStateKey } from '../../src/store/index.js';
import { KEY, code, tempDir, utf8 } from './helpers.js';

/** The state key under the platform key and the recovery key (store/state-key.ts). */

const key = () => new Uint8Array(randomBytes(32));

describe('openStateKey', () => {
  it('a new data directory gets a random state key (not the platform key), the same at every start', async () => {
    const dir = await tempDir();
    const first = await openStateKey(dir, KEY);
    assert.ok(first.stateKey);
    assert.notDeepEqual(first.stateKey, KEY);
    assert.deepEqual((await openStateKey(dir, KEY)).stateKey, first.stateKey);
  });

  it('a state sealed before state keys existed keeps the platform key as its state key', async () => {
    const dir = await tempDir();
    await fileStore({ dir, key: KEY }).write(utf8('{}'));
    assert.deepEqual((await openStateKey(dir, KEY)).stateKey, KEY);
  });

  it('another platform key leaves it locked; the recovery key opens it, a wrong one is RECOVERY_FAILED', async () => {
    const dir = await tempDir();
    const keyring = await openStateKey(dir, KEY);
    const recoveryKey = key();
    await keyring.setRecovery({ recoveryKey, data: utf8('{"d":1}') });
    const elsewhere = key();
    const locked = await openStateKey(dir, elsewhere);
    assert.equal(locked.stateKey, undefined);
    assert.deepEqual(locked.recoveryData, utf8('{"d":1}'));
    await assert.rejects(async () => locked.unwrap(key()), code('RECOVERY_FAILED'));
    const stateKey = locked.unwrap(recoveryKey);
    assert.deepEqual(stateKey, keyring.stateKey);
    await locked.reseal(stateKey);
    assert.deepEqual((await openStateKey(dir, elsewhere)).stateKey, stateKey);
    assert.equal((await openStateKey(dir, KEY)).stateKey, undefined, 'the old platform no longer opens it');
  });

  it('without recovery keys a locked state key cannot be recovered; a malformed key file is STATE_CORRUPT', async () => {
    const dir = await tempDir();
    await openStateKey(dir, KEY);
    await assert.rejects(async () => (await openStateKey(dir, key())).unwrap(key()), code('RECOVERY_UNAVAILABLE'));
    const file = join(dir, 'state.key');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"version":1', '"version":2'));
    await assert.rejects(() => openStateKey(dir, KEY), code('STATE_CORRUPT'));
    await writeFile(file, 'not json');
    await assert.rejects(() => openStateKey(dir, KEY), code('STATE_CORRUPT'));
  });
});
