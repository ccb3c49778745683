/**
 * The coordinator's sealed state: an AES-256-GCM sealed file written atomically, and the
 * simulation-mode sealing key.
 */
export { fileStore, type SealedStore } from './file.js';
export { sealingKey } from './key.js';
export { lockDataDir, underLock, type DataDirLock } from './lock.js';
