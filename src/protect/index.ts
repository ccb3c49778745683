/**
 * Protected files (docs/protected-files.md): files encrypted and authenticated chunk by chunk
 * under a volume key, bound to their path and version, with a root hash to pin. The format and
 * the chunk crypto are pure (with stream adapters over node:stream); io/ is the edge that reads
 * and writes files and folders and runs chunks on worker threads.
 */
export { sealFile } from './seal.js';
export { openFile } from './open.js';
export {
  readHeader,
  sealedLength,
  DEFAULT_CHUNK_SIZE,
  CHUNK_SIZE_BOUNDS,
  FORMAT_VERSION,
  HEADER_LENGTH,
  type ProtectedHeader,
} from './format.js';
export { createSealStream, createOpenStream, type SealStream, type OpenStream } from './stream.js';
export { sealToFile, openToFile } from './io/files.js';
export {
  sealFolder,
  openFolder,
  sealFiles,
  syncFolders,
  walkFolder,
  type SealJob,
  type ProtectedEntry,
  type SealFolderOptions,
  type OpenFolderOptions,
  type FolderRecord,
} from './io/folder.js';
export { pathProblem } from './lib/options.js';
export type {
  FileKeyOptions,
  SealOptions,
  SealResult,
  OpenOptions,
  OpenResult,
  SealStreamOptions,
  SealStreamResult,
  OpenStreamResult,
  TransferOptions,
} from './types.js';
