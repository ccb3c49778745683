/**
 * Protected files (docs/protected-files.md): files encrypted and authenticated chunk by chunk
 * under a volume key, bound to their path and version, with a root hash to pin. Pure except
 * the stream adapters (node:stream) and the file and folder helpers (node:fs).
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
export { sealToFile, openToFile } from './files.js';
export {
  sealFolder,
  openFolder,
  type ProtectedEntry,
  type SealFolderOptions,
  type OpenFolderOptions,
  type FolderRecord,
} from './folder.js';
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
