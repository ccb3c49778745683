/**
 * The coordinator's sealed state: an AES-256-GCM sealed file written atomically, the state key
 * it is sealed under (kept under the platform key and the recovery key), and the
 * simulation-mode sealing key.
 */
export { fileStore, type SealedStore } from './file.js';
export { sealingKey } from './key.js';
export { openStateKey, type StateKeyring } from './state-key.js';
export { lockDataDir, underLock, type DataDirLock } from './lock.js';
