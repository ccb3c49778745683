import { createSecretKey, randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { seal, unseal } from './format.js';
import { io, readIfExists, syncDir, writeNew } from './lib/io.js';

/**
 * The state key: the AES-256 key the sealed state is sealed under (what `fileStore` takes), kept
 * in `DIR/state.key` twice: sealed under the platform's sealing key (`sealingKey`), which opens
 * it on the same platform, and, once a manifest names recovery keys, sealed under the recovery
 * key those holders' secrets recombine (coordinator/recovery.ts), which opens it anywhere. As
 * MarbleRun keeps its encryption key beside its sealed data. Beside them is the coordinator's
 * recovery data (opaque here: hashes of the holders' secrets, nothing secret), which a
 * coordinator in recovery mode needs before it can open anything.
 *
 * File format, JSON: `{"version":1,"platform":B64,"recovery":{"data":B64,"wrapped":B64}}`, each
 * sealed value in the sealed state file format (store/format.ts). Written whole, atomically.
 */

const KEY_FILE = 'state.key';
const STATE_FILE = 'state.sealed';

/** A data directory's state key, or why it is locked. */
export interface StateKeyring {
  /** The state key, `undefined` when the platform key does not open it (recovery mode). */
  readonly stateKey: Uint8Array | undefined;
  /** The recovery data kept beside it (bytes the coordinator wrote), `undefined` without recovery keys. */
  readonly recoveryData: Uint8Array | undefined;
  /** Seals the state key under `recoveryKey` beside the recovery data (`undefined`: no recovery). Needs the state key. */
  setRecovery(recovery: { recoveryKey: Uint8Array; data: Uint8Array } | undefined): Promise<void>;
  /** The state key the recovery key opens: RECOVERY_FAILED when it opens nothing. */
  unwrap(recoveryKey: Uint8Array): Uint8Array;
  /** Seals the recovered state key under this platform's key: the data directory opens here from now on. */
  reseal(stateKey: Uint8Array): Promise<void>;
}

interface KeyFile {
  platform: Uint8Array;
  recovery: { data: Uint8Array; wrapped: Uint8Array } | undefined;
}

const reader = new JsonReader('STATE_CORRUPT', 'state.key');

function decode(bytes: Uint8Array, path: string): KeyFile {
  const o = reader.object(reader.parse(Buffer.from(bytes).toString('utf8')), 'state.key', [
    'version',
    'platform',
    'recovery',
  ]);
  if (o['version'] !== 1)
    throw new CloisterError('STATE_CORRUPT', `${path}: version ${String(o['version'])} is not understood`, { path });
  const recovery = reader.optional(o, 'state.key', 'recovery', (v, p) => {
    const r = reader.object(v, p, ['data', 'wrapped']);
    return { data: reader.base64(r, 'data', p), wrapped: reader.base64(r, 'wrapped', p) };
  });
  return { platform: reader.base64(o, 'platform', 'state.key'), recovery };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

async function write(dir: string, file: KeyFile): Promise<void> {
  const path = join(dir, KEY_FILE);
  const doc = {
    version: 1,
    platform: b64(file.platform),
    ...(file.recovery ? { recovery: { data: b64(file.recovery.data), wrapped: b64(file.recovery.wrapped) } } : {}),
  };
  await writeNew(`${path}.tmp`, new Uint8Array(Buffer.from(JSON.stringify(doc), 'utf8')));
  await io(path, 'rename the new key file over it', () => rename(`${path}.tmp`, path));
  await syncDir(dir);
}

const sealKey = (key: Uint8Array, stateKey: Uint8Array) => seal(createSecretKey(key), 1n, stateKey);
const open = (key: Uint8Array, sealed: Uint8Array, path: string) => unseal(createSecretKey(key), sealed, path).state;

/**
 * Opens the state key of `dir` with the platform's sealing key. A new data directory gets a fresh
 * random state key; one from before state keys existed (a `state.sealed` without `state.key`)
 * keeps the platform key as its state key. When the platform key does not open `state.key` (a
 * new machine, a changed platform, the sealing key lost), the keyring is locked: the coordinator
 * starts in recovery mode. A malformed `state.key` is STATE_CORRUPT and is never replaced.
 *
 * @example
 * ```ts
 * const keyring = await openStateKey(dataDir, await sealingKey(dataDir));
 * if (keyring.stateKey) store = fileStore({ dir: dataDir, key: keyring.stateKey });
 * ```
 */
export async function openStateKey(dir: string, platformKey: Uint8Array): Promise<StateKeyring> {
  const path = join(dir, KEY_FILE);
  const bytes = await readIfExists(path);
  let file: KeyFile;
  let stateKey: Uint8Array | undefined;
  if (bytes === undefined) {
    const legacy = (await readIfExists(join(dir, STATE_FILE))) !== undefined;
    stateKey = legacy ? platformKey : new Uint8Array(randomBytes(32));
    file = { platform: sealKey(platformKey, stateKey), recovery: undefined };
    await write(dir, file);
  } else {
    file = decode(bytes, path);
    try {
      stateKey = open(platformKey, file.platform, path);
    } catch {
      stateKey = undefined; // sealed on another platform: recovery mode
    }
  }
  return {
    get stateKey() {
      return stateKey;
    },
    get recoveryData() {
      return file.recovery?.data;
    },
    async setRecovery(recovery) {
      if (!stateKey) throw new CloisterError('STATE_KEY_INVALID', `${path}: the state key is locked`);
      file = {
        platform: file.platform,
        recovery: recovery && { data: recovery.data, wrapped: sealKey(recovery.recoveryKey, stateKey) },
      };
      await write(dir, file);
    },
    unwrap(recoveryKey) {
      if (!file.recovery) throw new CloisterError('RECOVERY_UNAVAILABLE', `${path}: holds no recovery key`);
      try {
        return open(recoveryKey, file.recovery.wrapped, path);
      } catch (cause) {
        throw new CloisterError('RECOVERY_FAILED', 'the recovery secrets combine to a key that opens nothing here', {
          cause,
        });
      }
    },
    async reseal(recovered) {
      stateKey = recovered;
      file = { platform: sealKey(platformKey, recovered), recovery: file.recovery };
      await write(dir, file);
    },
  };
}
