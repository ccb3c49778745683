import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { CloisterError } from '../../lib/errors.js';

/**
 * Pseudo-file attributes as kernels and library OSes expose them (configfs-tsm, `/dev/attestation`):
 * read whole with a cap, written in one write(2) without creating anything. Failures name the path
 * and say what the interface needs.
 */

export interface AttributeFiles {
  read: (path: string, max: number) => Uint8Array;
  write: (path: string, value: Uint8Array) => void;
  /** EVIDENCE_UNAVAILABLE for a failed operation on `path`. */
  unavailable: (path: string, cause: unknown, doing: string) => CloisterError;
}

/**
 * The attribute files of one interface: `name` prefixes messages, `missing` explains ENOENT and
 * `denied` EACCES.
 *
 * @example `const files = attributeFiles('configfs-tsm', 'needs Linux 6.7+', 'needs root'); files.read(path, 64)`
 */
export function attributeFiles(name: string, missing: string, denied: string): AttributeFiles {
  const unavailable = (path: string, cause: unknown, doing: string) => {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `does not exist (${missing})`
        : code === 'EACCES' || code === 'EPERM'
          ? `is not accessible to this process (${denied})`
          : `failed (${code ?? String(cause)})`;
    return new CloisterError('EVIDENCE_UNAVAILABLE', `${name}: ${doing} ${path} ${why}`, { path, cause });
  };
  const open = (path: string, flags: number, doing: string) => {
    try {
      return openSync(path, flags);
    } catch (cause) {
      throw unavailable(path, cause, doing);
    }
  };
  const guarded = <T>(path: string, fd: number, doing: string, body: () => T): T => {
    try {
      return body();
    } catch (cause) {
      if (cause instanceof CloisterError) throw cause;
      throw unavailable(path, cause, doing);
    } finally {
      closeSync(fd);
    }
  };
  return {
    unavailable,
    read: (path, max) => {
      const fd = open(path, constants.O_RDONLY, 'reading');
      return guarded(path, fd, 'reading', () => {
        const buf = Buffer.alloc(max + 1);
        let length = 0;
        for (let n = -1; n !== 0 && length <= max; length += n)
          n = readSync(fd, buf, length, buf.length - length, null);
        if (length > max)
          throw new CloisterError('EVIDENCE_INVALID', `${name}: ${path} holds more than ${max} bytes`, { path });
        return new Uint8Array(buf.subarray(0, length));
      });
    },
    write: (path, value) => {
      const fd = open(path, constants.O_WRONLY, 'writing');
      guarded(path, fd, 'writing', () => {
        if (writeSync(fd, value) !== value.length)
          throw new CloisterError('EVIDENCE_UNAVAILABLE', `${name}: a short write to ${path}`, { path });
      });
    },
  };
}
