import { spawn } from 'node:child_process';
import { BIN } from '../e2e/harness.js';

/** `cloister sim emulate` as a real helper process, as the providers' tests and the end-to-end tests run it. */

export interface Emulator {
  /** What the emulated guest measures to (`mrtd`, `measurement`, `mrenclave`, `mrsigner`), hex. */
  identity: Record<string, string>;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `cloister sim emulate ARGS` and resolves once it says it is ready. */
export function startEmulator(args: readonly string[]): Promise<Emulator> {
  // The pipes it waits on each hold a thread of libuv's pool; set here so it need not start itself again.
  const child = spawn(process.execPath, [BIN, 'sim', 'emulate', ...args], {
    env: { ...process.env, UV_THREADPOOL_SIZE: '64' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        const { ready: _ready, ...identity } = JSON.parse(line) as Record<string, string>;
        resolve({ identity, stderr: () => stderr, stop });
      }
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}: ${stderr}`)));
  });
}
