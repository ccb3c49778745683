import { lstat, mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import type { FileChange, FileRecord, VolumeGrant } from '../protocol/index.js';
import { openFolder, openToFile, sealFiles, syncFolders, walkFolder } from '../protect/index.js';

/**
 * Protected volumes on the workload side: before the program starts, every file of a volume it
 * may open is decrypted and checked against the coordinator's record (version and root) into a
 * private folder; after it exits, changed files of read-write volumes are sealed with a version
 * one higher, committed to the coordinator (compare-and-swap), then renamed into place. A crash
 * between commit and rename is recovered from the pending copy whose root was committed. All of
 * it streams through protect/io (memory bounded whatever the file sizes, large files on worker
 * threads, several files at a time).
 */

const PENDING = '.cloister-pending';
/** What protect/io names a file it is still writing; one left behind is a write a crash cut short. */
const PARTIAL = '.cloister-partial';
/**
 * The marker cloister run puts at the top of a plaintext folder it filled: a later run that finds
 * it knows the folder's files are its own decrypted copies (left by a run that was killed) and
 * may remove them. Not part of the volume: never sealed or committed.
 */
const MARKER = '.cloister-volume';

export interface Unlocked {
  name: string;
  grant: VolumeGrant;
  sealedDir: string;
  plainDir: string;
  /** Whether this run created `plainDir` (then it removes it), rather than finding it empty. */
  created: boolean;
  /** Each released plaintext's inode, size and modification time (ns), to find what the program changed. */
  released: Map<string, string>;
}

/**
 * The modification time unlocked files get: two seconds before the unlock began. Any write by
 * the program sets a file's mtime to the current time, later than this whatever the file
 * system's timestamp granularity, so a file is unchanged exactly when its inode, size and mtime
 * are as released; no plaintext is hashed twice.
 */
const releasedTime = (start: number) => new Date(start - 2000);

async function stamp(file: string): Promise<string> {
  const s = await lstat(file, { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

/**
 * Finishes a commit that was interrupted before its rename: the pending copy whose root the
 * coordinator recorded wins; any other pending copy, and any partial write, is removed.
 */
async function recover(name: string, grant: VolumeGrant, sealedDir: string): Promise<void> {
  const leftovers = await walkFolder(sealedDir).catch(() => []);
  for (const path of leftovers) {
    const file = join(sealedDir, path);
    if (path.endsWith(PARTIAL)) await rm(file, { force: true });
    if (!path.endsWith(PENDING)) continue;
    const target = path.slice(0, -PENDING.length);
    const record = grant.files[target];
    const committed =
      record !== undefined &&
      (await openToFile(file, undefined, {
        volumeKey: grant.key,
        path: target,
        expectedRoot: Buffer.from(record.root, 'hex'),
        fileName: `${name}/${target}`,
      }).then(
        () => true,
        () => false,
      ));
    if (committed) await rename(file, join(sealedDir, target));
    else await rm(file, { force: true });
  }
}

/**
 * Makes `plainDir` an empty folder this run may fill: created (mode 0700) when missing, taken as
 * it is when empty, emptied when it holds only what an interrupted run of cloister left (the
 * marker says so); anything else, a file or a folder holding others' files, is refused, since
 * its contents are removed when the program exits.
 */
async function claim(name: string, plainDir: string): Promise<boolean> {
  const found = await lstat(plainDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new CloisterError('IO', `volume ${name}: ${plainDir}: ${e.message}`, { cause: e });
  });
  let created = found === undefined;
  if (found === undefined) await mkdir(plainDir, { recursive: true, mode: 0o700 });
  else if (!found.isDirectory())
    throw new CloisterError('VOLUME_FOLDER_IN_USE', `volume ${name}: ${plainDir} exists and is not a folder`, {
      path: plainDir,
    });
  else {
    const entries = await readdir(plainDir);
    if (entries.length > 0 && !entries.includes(MARKER))
      throw new CloisterError(
        'VOLUME_FOLDER_IN_USE',
        `volume ${name}: ${plainDir} holds files cloister run did not put there (${entries.slice(0, 3).join(', ')}); ` +
          'a volume decrypts into a new or empty folder, whose contents are removed when the program exits: ' +
          "empty it or change the volume's Path",
        { path: plainDir },
      );
    if (entries.includes(MARKER))
      created = (await readFile(join(plainDir, MARKER), 'utf8').catch(() => '')).trim() === 'created';
    await empty(plainDir);
  }
  await writeFile(join(plainDir, MARKER), created ? 'created\n' : 'found\n', { mode: 0o600 });
  return created;
}

/** Whether the sealed folder exists: it need not while the coordinator records no file of the volume. */
async function exists(sealedDir: string, name: string, grant: VolumeGrant): Promise<boolean> {
  const found = await lstat(sealedDir).then(
    () => true,
    () => false,
  );
  const recorded = Object.keys(grant.files).length;
  if (!found && recorded > 0)
    throw new CloisterError(
      'PROTECTED_FILE_SET',
      `volume ${name}: the sealed folder ${sealedDir} is missing (the coordinator recorded ${recorded} file${recorded === 1 ? '' : 's'})`,
      { path: sealedDir },
    );
  return found;
}

/** Removes everything inside `dir`, not `dir` itself (it may be a mount point). */
async function empty(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true, force: true });
}

/**
 * Decrypts every volume of the grant into its private folder (mode 0700), verifying each file's
 * root and version against the coordinator's record; any file the record does not name is refused.
 *
 * @example
 * ```ts
 * const unlocked = await unlockVolumes(activation.volumes, process.cwd());
 * ```
 */
export async function unlockVolumes(grants: Record<string, VolumeGrant>, cwd: string): Promise<Unlocked[]> {
  const unlocked: Unlocked[] = [];
  try {
    for (const [name, grant] of Object.entries(grants)) {
      const start = Date.now();
      const sealedDir = resolve(cwd, grant.sealed);
      const plainDir = resolve(cwd, grant.path);
      // The manifest refuses such paths; checked again here since the grant comes over the wire.
      if (plainDir === resolve('/') || plainDir === resolve(cwd) || resolve(cwd).startsWith(`${plainDir}/`))
        throw new CloisterError(
          'COORDINATOR_ERROR',
          `volume ${name}: Path ${grant.path} is the root, the working folder or above it`,
        );
      await recover(name, grant, sealedDir);
      const created = await claim(name, plainDir);
      const volume: Unlocked = { name, grant, sealedDir, plainDir, created, released: new Map() };
      unlocked.push(volume);
      const entries = (await exists(sealedDir, name, grant))
        ? await openFolder(sealedDir, plainDir, {
            volumeKey: grant.key,
            expected: grant.files,
            fileName: (path) => `${name}/${path}`,
          })
        : [];
      const time = releasedTime(start);
      for (const { path } of entries) {
        const file = join(plainDir, path);
        await utimes(file, time, time);
        volume.released.set(path, await stamp(file));
      }
    }
    return unlocked;
  } catch (error) {
    for (const volume of unlocked) await discard(volume);
    throw error;
  }
}

/** What changed in a read-write volume, sealed with the next version and written as pending copies. */
export async function sealChanges(u: Unlocked): Promise<FileChange[]> {
  const changed: string[] = [];
  for (const path of await walkFolder(u.plainDir, new Set([MARKER])))
    if (u.released.get(path) !== (await stamp(join(u.plainDir, path)))) changed.push(path);
  const entries = await sealFiles(
    changed.map((path) => ({
      from: join(u.plainDir, path),
      to: join(u.sealedDir, path + PENDING),
      path,
      version: (u.grant.files[path]?.version ?? 0) + 1,
    })),
    { volumeKey: u.grant.key },
  );
  return entries.map(({ path, version, root }) => ({ path, expectedVersion: version - 1, root }));
}

/** After the coordinator accepted the commit: the pending copies replace the files, durably. */
export async function finishCommit(
  u: Unlocked,
  committed: Record<string, FileRecord>,
  changes: FileChange[],
): Promise<void> {
  const renamed = changes.filter(({ path }) => committed[path] !== undefined);
  for (const { path } of renamed) await rename(join(u.sealedDir, path + PENDING), join(u.sealedDir, path));
  await syncFolders(renamed.map(({ path }) => dirname(join(u.sealedDir, path))));
}

/**
 * Removes pending copies (a refused commit) and the plaintext: the folder itself when this run
 * created it, else only what is inside it.
 */
export async function discard(u: Unlocked, changes: { path: string }[] = []): Promise<void> {
  for (const { path } of changes) await rm(join(u.sealedDir, path + PENDING), { force: true });
  if (u.created) await rm(u.plainDir, { recursive: true, force: true });
  else await empty(u.plainDir);
}
