import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CloisterError } from '../lib/errors.js';

/** Shared edge helpers of the command tree: reading inputs, parsing times, printing results. */

/** A path under ~/.cloister; in a container without a home (no HOME, no passwd entry), under the temporary folder. */
export function cloisterHome(...parts: string[]): string {
  let home: string;
  try {
    home = homedir();
  } catch {
    home = tmpdir();
  }
  return join(home, '.cloister', ...parts);
}

/** Reads a file, or standard input for `-`. */
export function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path === '-' ? 0 : path));
  } catch (cause) {
    throw new CloisterError(
      'IO',
      `cannot read ${path === '-' ? 'standard input' : path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      { path, cause },
    );
  }
}

/** Binary evidence, or the same as hex text (as some sources ship quotes). */
export function readEvidence(path: string): Uint8Array {
  const bytes = readInput(path);
  const text = Buffer.from(bytes).toString('latin1').trim();
  return text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)
    ? new Uint8Array(Buffer.from(text, 'hex'))
    : bytes;
}

export function readJson(path: string): unknown {
  const text = Buffer.from(readInput(path)).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new CloisterError('USAGE', `${path}: not valid JSON (${(cause as Error).message})`, { path, cause });
  }
}

/** `--at`: ISO-8601 or Unix seconds, in Unix seconds. */
export function parseTime(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || !Number.isFinite(ms))
    throw new CloisterError('USAGE', `--at: "${text}" is neither an ISO-8601 time nor Unix seconds`);
  return ms / 1000;
}

export function parseCount(text: string, name: string, min = 1): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new CloisterError('USAGE', `${name}: "${text}" is not an integer of at least ${min}`);
  return n;
}

export function parseHex(text: string, name: string, maxBytes: number, exact = false): Uint8Array {
  const clean = text.startsWith('0x') ? text.slice(2) : text;
  if (
    clean.length % 2 !== 0 ||
    !/^[0-9a-fA-F]*$/.test(clean) ||
    clean.length / 2 > maxBytes ||
    (exact && clean.length / 2 !== maxBytes)
  ) {
    throw new CloisterError('USAGE', `${name}: expected ${exact ? '' : 'up to '}${maxBytes} bytes of hex`);
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Exit codes: 0 success, 1 refused evidence or failed operation, 2 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Prints an error as the `--json` contract or as one line on stderr, and returns its exit code. */
export function reportError(error: unknown, json: boolean): number {
  const e =
    error instanceof CloisterError
      ? error
      : new CloisterError('IO', error instanceof Error ? error.message : String(error), { cause: error });
  const usage = e.code === 'USAGE' || e.code === 'IO' || e.code === 'POLICY_INVALID';
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code: e.code, message: e.message } })}\n`);
  else process.stderr.write(`cloister: ${e.code}: ${e.message}\n`);
  return usage ? EXIT.usage : EXIT.failed;
}

/** Writes a file atomically: a temporary file in the same folder, fsync, rename. `-` is standard output. */
export function writeOutput(path: string, data: Uint8Array | string, mode = 0o644): void {
  if (path === '-') {
    process.stdout.write(data);
    return;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (cause) {
    throw new CloisterError(
      'IO',
      `cannot write ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      { path, cause },
    );
  }
}

/**
 * A commander action that sets the exit code: the one `fn` returns (0 when none), else the error's (reported
 * as JSON when the command's options say `--json`).
 */
export function action<T extends { json?: boolean }>(fn: (...a: never[]) => Promise<void | number>) {
  return async (...a: unknown[]) => {
    const o = a.find((x): x is T => typeof x === 'object' && x !== null && !Array.isArray(x) && !('commands' in x)) as
      T | undefined;
    try {
      process.exitCode = (await fn(...(a as never[]))) ?? EXIT.ok;
    } catch (error) {
      process.exitCode = reportError(error, o?.json === true);
    }
  };
}

/** One JSON line per event on standard error: the log of the long-running commands. */
export const log = (entry: Record<string, unknown>): void =>
  void process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

/** A server command runs until SIGINT or SIGTERM, then closes and exits 0. */
export function untilSignal(close: () => unknown): void {
  const stop = () => {
    log({ level: 'info', event: 'stopping' });
    void Promise.resolve(close()).then(() => process.exit(EXIT.ok));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
