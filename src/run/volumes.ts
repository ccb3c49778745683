import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { hex } from '../lib/bytes.js';
import type { FileRecord, VolumeGrant } from '../protocol/index.js';
import { openFile, sealFile } from '../protect/index.js';

/**
 * Protected volumes on the workload side: before the program starts, every file of a volume it
 * may open is decrypted and checked against the coordinator's record (version and root) into a
 * private folder; after it exits, changed files of read-write volumes are sealed with a version
 * one higher, committed to the coordinator (compare-and-swap), then renamed into place. A crash
 * between commit and rename is recovered from the pending copy whose root was committed.
 */

const PENDING = '.cloister-pending';

/** Every regular file below `dir`, as `/`-separated paths relative to it. */
function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return walk(path, base);
    return e.isFile() ? [relative(base, path).split(sep).join('/')] : [];
  });
}

function writeDurably(path: string, data: Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sha256 = (b: Uint8Array) => hex(createHash('sha256').update(b).digest());

export interface Unlocked {
  name: string;
  grant: VolumeGrant;
  sealedDir: string;
  plainDir: string;
  /** SHA-256 of each plaintext as released, to find what the program changed. */
  released: Map<string, string>;
}

/** Finishes a commit that was interrupted before its rename: the pending copy whose root the coordinator recorded wins. */
function recover(name: string, g: VolumeGrant, sealedDir: string): void {
  for (const path of walk(sealedDir).filter((p) => p.endsWith(PENDING))) {
    const target = path.slice(0, -PENDING.length);
    const record = g.files[target];
    const pending = join(sealedDir, path);
    try {
      const { root } = openFile(readFileSync(pending), {
        volumeKey: g.key,
        path: target,
        fileName: `${name}/${target}`,
      });
      if (record && hex(root) === record.root) renameSync(pending, join(sealedDir, target));
      else unlinkSync(pending);
    } catch {
      unlinkSync(pending);
    }
  }
}

/**
 * Checks a sealed folder against the coordinator's record: exactly the recorded files, each
 * authentic, of its recorded version and root; `each` receives every plaintext.
 *
 * @example
 * ```ts
 * checkVolume('models', grant, 'models.sealed', (path, plaintext) => console.log(path, plaintext.length));
 * ```
 */
export function checkVolume(
  name: string,
  g: VolumeGrant,
  sealedDir: string,
  each: (path: string, plaintext: Uint8Array) => void = () => {},
): void {
  const unknown = walk(sealedDir).filter((p) => !Object.hasOwn(g.files, p));
  if (unknown.length > 0)
    throw new CloisterError(
      'PROTECTED_INTEGRITY',
      `volume ${name}: ${unknown.slice(0, 5).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not among the files the coordinator recorded`,
    );
  for (const [path, record] of Object.entries(g.files)) {
    const file = join(sealedDir, path);
    if (!existsSync(file))
      throw new CloisterError(
        'PROTECTED_INTEGRITY',
        `volume ${name}: ${path} is missing (the coordinator recorded version ${record.version})`,
      );
    const { plaintext } = openFile(readFileSync(file), {
      volumeKey: g.key,
      path,
      expectedVersion: record.version,
      expectedRoot: Buffer.from(record.root, 'hex'),
      fileName: `${name}/${path}`,
    });
    each(path, plaintext);
  }
}

/** Seals every file of `dir` into `out` for a volume, each with the version after the recorded one. Returns the new records. */
export function sealVolumeFolder(g: VolumeGrant, dir: string, out: string): Record<string, FileRecord> {
  const records: Record<string, FileRecord> = {};
  for (const path of walk(dir)) {
    const version = (g.files[path]?.version ?? 0) + 1;
    const { sealed, root } = sealFile(readFileSync(join(dir, path)), { volumeKey: g.key, path, version });
    writeDurably(join(out, path), sealed, 0o644);
    records[path] = { version, root: hex(root) };
  }
  return records;
}

/**
 * Decrypts every volume of the grant into its private folder (mode 0700), verifying each file's
 * root and version against the coordinator's record; any file the record does not name is refused.
 *
 * @example
 * ```ts
 * const unlocked = unlockVolumes(activation.volumes, process.cwd());
 * ```
 */
export function unlockVolumes(grants: Record<string, VolumeGrant>, cwd: string): Unlocked[] {
  return Object.entries(grants).map(([name, g]) => {
    const sealedDir = resolve(cwd, g.sealed);
    const plainDir = resolve(cwd, g.path);
    recover(name, g, sealedDir);
    rmSync(plainDir, { recursive: true, force: true });
    mkdirSync(plainDir, { recursive: true, mode: 0o700 });
    const released = new Map<string, string>();
    checkVolume(name, g, sealedDir, (path, plaintext) => {
      writeDurably(join(plainDir, path), plaintext);
      released.set(path, sha256(plaintext));
    });
    return { name, grant: g, sealedDir, plainDir, released };
  });
}

/** What changed in a read-write volume, sealed with the next version and written as pending copies. */
export function sealChanges(u: Unlocked): { path: string; expectedVersion: number; root: string }[] {
  const changes: { path: string; expectedVersion: number; root: string }[] = [];
  for (const path of walk(u.plainDir)) {
    const plaintext = readFileSync(join(u.plainDir, path));
    if (u.released.get(path) === sha256(plaintext)) continue;
    const expectedVersion = u.grant.files[path]?.version ?? 0;
    const { sealed, root } = sealFile(plaintext, { volumeKey: u.grant.key, path, version: expectedVersion + 1 });
    writeDurably(join(u.sealedDir, path + PENDING), sealed, 0o644);
    changes.push({ path, expectedVersion, root: hex(root) });
  }
  return changes;
}

/** After the coordinator accepted the commit: the pending copies replace the files. */
export function finishCommit(u: Unlocked, committed: Record<string, FileRecord>, changes: { path: string }[]): void {
  for (const { path } of changes) {
    if (!committed[path]) continue;
    renameSync(join(u.sealedDir, path + PENDING), join(u.sealedDir, path));
  }
  const dir = openSync(u.sealedDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Removes pending copies (a refused commit) and the plaintext folder. */
export function discard(u: Unlocked, changes: { path: string }[] = []): void {
  for (const { path } of changes) rmSync(join(u.sealedDir, path + PENDING), { force: true });
  rmSync(u.plainDir, { recursive: true, force: true });
}
