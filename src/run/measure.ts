import { createHash, type Hash } from 'node:crypto';
import { accessSync, constants, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import { CloisterError } from '../lib/errors.js';

/**
 * The simulated platform's measurement of a workload (DESIGN.md "The simulated TEE"): SHA-256 over
 * the program file and the files given with `--measure` (folders walked in sorted order), each
 * framed by its length and, inside folders, its relative path, so that changing any byte of
 * what runs changes the MRENCLAVE.
 */

function hashFile(h: Hash, path: string): void {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(size));
    h.update(len);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

function hashTree(h: Hash, root: string, dir: string): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) hashTree(h, root, path);
    else if (st.isFile()) {
      const rel = Buffer.from(relative(root, path), 'utf8');
      h.update(Buffer.from([rel.length & 0xff, rel.length >> 8])).update(rel);
      hashFile(h, path);
    }
  }
}

/** The program's file: a path, or a name looked up on PATH as a shell would. */
export function resolveProgram(program: string): string {
  const candidates = program.includes('/')
    ? [program]
    : (process.env['PATH'] ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return isAbsolute(c) ? c : join(process.cwd(), c);
    } catch {
      // not this one
    }
  }
  throw new CloisterError(
    'USAGE',
    `program "${program}" not found${program.includes('/') ? '' : ' on PATH'} or not executable`,
  );
}

/**
 * MRENCLAVE of a program and its declared code, 32 bytes.
 *
 * @example
 * ```ts
 * const mrenclave = measure(resolveProgram('node'), ['app/']);
 * ```
 */
export function measure(program: string, extra: readonly string[] = []): Uint8Array {
  const h = createHash('sha256');
  try {
    hashFile(h, program);
    for (const path of extra) {
      if (statSync(path).isDirectory()) hashTree(h, path, path);
      else hashFile(h, path);
    }
  } catch (cause) {
    if (cause instanceof CloisterError) throw cause;
    throw new CloisterError('IO', `cannot measure: ${(cause as Error).message}`, { cause });
  }
  return new Uint8Array(h.digest());
}
