import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Real processes for end-to-end tests: the `cloister` binary, free ports, a coordinator waited for. */

export const BIN = fileURLToPath(new URL('../../../bin/cloister.js', import.meta.url));

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder, removed when this test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cloister-${prefix}-`));
  made.push(dir);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** No end-to-end step may hang a test run: a child still running after this is killed. */
const CHILD_TIMEOUT_MS = 120_000;

/** Runs `cloister ARGS` to completion (asynchronously, so servers in this process keep serving). */
export function cloister(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      cwd,
      timeout: CHILD_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface RunningCoordinator {
  process: ChildProcess;
  client: string;
  mesh: string;
  log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `cloister coordinator --simulation` (with `extra` arguments) and resolves once it listens. */
export async function startCoordinator(
  dataDir: string,
  simDir: string,
  extra: readonly string[] = [],
): Promise<RunningCoordinator> {
  const client = `127.0.0.1:${await freePort()}`;
  const mesh = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [
    ...(process.env['CLOISTER_PROFILE'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['CLOISTER_PROFILE']] : []),
    BIN,
    'coordinator',
    '--data-dir',
    dataDir,
    '--client-addr',
    client,
    '--mesh-addr',
    mesh,
    '--simulation',
    '--sim-dir',
    simDir,
    ...extra,
  ]);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the coordinator did not listen within ${CHILD_TIMEOUT_MS} ms: ${log}`));
    }, CHILD_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('"event":"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited with ${code}: ${log}`));
    });
  });
  return {
    process: child,
    client,
    mesh,
    log: () => log,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/** The error code of a `--json` command that failed (its one JSON object on stdout). */
export function errorCode(r: Result): string {
  return (JSON.parse(r.stdout) as { error: { code: string } }).error.code;
}

/** `cloister verify --simulation` of `c` against the platform in `simDir`, pinning its root in `rootOut`. */
export function pinRoot(c: RunningCoordinator, simDir: string, rootOut: string, extra: string[] = []): Promise<Result> {
  return cloister([
    'verify',
    '--coordinator',
    c.client,
    '--simulation',
    '--sim-dir',
    simDir,
    '--root-out',
    rootOut,
    ...extra,
  ]);
}

/** `cloister run` of `program` as `service`, trusting the coordinator through the root pinned in `root`. */
export function runService(
  c: RunningCoordinator,
  at: { simDir: string; root: string; cwd: string },
  service: string,
  program: string[],
  options: { extra?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return cloister(
    [
      'run',
      '--service',
      service,
      '--coordinator',
      c.mesh,
      '--sim-dir',
      at.simDir,
      '--root',
      at.root,
      ...(options.extra ?? []),
      '--',
      ...program,
    ],
    options.env ?? {},
    at.cwd,
  );
}
