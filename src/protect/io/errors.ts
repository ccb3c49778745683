import { CloisterError } from '../../lib/errors.js';

/** An I/O failure at the edges (folder and file helpers): IO naming the path and what failed. */
export const ioError = (path: string, what: string, cause: unknown): CloisterError =>
  new CloisterError('IO', `${path}: cannot ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, {
    path,
    cause,
  });
