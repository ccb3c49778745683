import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import type { FileChange, FileRecord } from '../protocol/index.js';
import type { Activated } from './activate.js';
import { discard, finishCommit, sealChanges, unlockVolumes, type Unlocked } from './volumes.js';

/**
 * After activation, what `cloister run` does around the unmodified program: the manifest's files
 * written (mode 0600), its volumes unlocked, the environment MarbleRun's marbles and cloister's
 * read, the program started with the manifest's Argv (or the given arguments), signals passed on,
 * and at its exit what it changed in read-write volumes sealed and committed. The exit status is
 * the program's, or 128 + the signal that ended it, as a shell reports it; 127 when it cannot start.
 */

export interface LaunchOptions {
  service: string;
  /** The program as the user named it, and its resolved path. */
  program: string;
  programPath: string;
  args: string[];
  /** The working folder: relative file and volume paths are taken from it. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Commits new versions of a read-write volume's files with the coordinator. */
  commit(volume: string, changes: FileChange[]): Promise<Record<string, FileRecord>>;
  /** Told once about each failure that does not decide the exit status (a commit that failed). */
  report(error: unknown): void;
}

/** The signals a shell user sends, passed on to the program. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/**
 * Writes the manifest's files where it says (relative to `cwd`), folders created 0700, files 0600.
 * The manifest refuses `..` segments (manifest/sections/marbles.ts); checked again here since the
 * files come over the wire.
 */
export function writeFiles(files: Record<string, Uint8Array>, cwd: string): void {
  const escaping = Object.keys(files).find((path) => path.includes('\0') || path.split(/[\\/]/).includes('..'));
  if (escaping !== undefined)
    throw new CloisterError('COORDINATOR_ERROR', `Files.${escaping}: a file path must not contain ".." or NUL`);
  for (const [path, data] of Object.entries(files)) {
    const target = resolve(cwd, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, data, { mode: 0o600 });
    chmodSync(target, 0o600);
  }
}

/** The environment of the program: the caller's, the manifest's, then the identity (MarbleRun's names and cloister's). */
export function programEnv(
  a: Activated,
  service: string,
  volumes: Unlocked[],
  base: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  return {
    ...base,
    ...a.rendered.env,
    MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN: a.certChain,
    MARBLE_PREDEFINED_PRIVATE_KEY: a.privateKey,
    MARBLE_PREDEFINED_ROOT_CA: a.rootCa,
    CLOISTER_CERT_CHAIN: a.certChain,
    CLOISTER_PRIVATE_KEY: a.privateKey,
    CLOISTER_ROOT_CA: a.rootCa,
    CLOISTER_SERVICE: service,
    CLOISTER_INSTANCE_ID: a.instanceId,
    ...(a.simulation ? { CLOISTER_SIMULATION: '1' } : {}),
    ...Object.fromEntries(
      volumes.map((v) => [`CLOISTER_VOLUME_${v.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, v.plainDir]),
    ),
  };
}

/** After the program: commits read-write volumes, and removes every plaintext folder. */
async function closeVolumes(volumes: Unlocked[], o: LaunchOptions): Promise<void> {
  let failure: Error | undefined;
  for (const volume of volumes) {
    let changes: FileChange[] = [];
    try {
      if (volume.grant.mode === 'read-write') {
        changes = await sealChanges(volume);
        if (changes.length > 0) {
          await finishCommit(volume, await o.commit(volume.name, changes), changes);
          changes = [];
        }
      }
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      await discard(volume, changes);
    }
  }
  if (failure) throw failure;
}

/**
 * Runs the activated program to its end and returns the exit status to leave with.
 *
 * @example
 * ```ts
 * const status = await launch(await activate(mesh, evidence, { service }), { service, program: 'node', ... });
 * process.exit(status);
 * ```
 */
export async function launch(a: Activated, o: LaunchOptions): Promise<number> {
  writeFiles(a.rendered.files, o.cwd);
  const volumes = await unlockVolumes(a.volumes, o.cwd);
  // Argv from the manifest replaces the arguments; its first element is argv[0] (MarbleRun).
  const argv = a.rendered.argv.length > 0 ? a.rendered.argv.slice(1) : o.args;
  const child = spawn(isAbsolute(o.program) || o.program.includes('/') ? o.programPath : o.program, argv, {
    stdio: 'inherit',
    cwd: o.cwd,
    env: programEnv(a, o.service, volumes, o.env),
    argv0: a.rendered.argv[0] ?? o.program,
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of SIGNALS) process.on(signal, forward);
  const status = await new Promise<number>((done) => {
    child.once('error', (e) => {
      o.report(new CloisterError('IO', `cannot start ${o.program}: ${e.message}`, { cause: e }));
      done(127);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
  for (const signal of SIGNALS) process.off(signal, forward);
  // Read-write volumes: what the program changed is sealed, committed, then put in place.
  try {
    await closeVolumes(volumes, o);
  } catch (error) {
    o.report(error);
    return status === 0 ? 1 : status;
  }
  return status;
}
