import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { fileStore } from '../../src/store/index.js';
import { KEY, tempDir } from './helpers.js';

const STORE_MODULE = fileURLToPath(new URL('../../src/store/index.js', import.meta.url));

/** State number `i`: its number repeated a varying number of times, so sizes differ from write to write. */
const stateText = (i: number): string => `state ${i};`.repeat((i % 97) + 1);
/** The number of a state, when the bytes are exactly one of the states written. */
function stateNumber(bytes: Uint8Array): number | undefined {
  const i = Number(/^state (\d+);/.exec(new TextDecoder().decode(bytes))?.[1]);
  return Number.isInteger(i) && new TextDecoder().decode(bytes) === stateText(i) ? i : undefined;
}

/**
 * A writer process: reads the store (continuing from its state), then writes states first, first+1, ...
 * forever, printing each number once its write() has resolved.
 */
const WRITER = `
import { fileStore } from ${JSON.stringify(STORE_MODULE)};
const [dir, keyHex, first] = process.argv.slice(1);
const store = fileStore({ dir, key: Buffer.from(keyHex, 'hex') });
await store.read();
const stateText = ${stateText.toString()};
for (let i = Number(first); ; i++) {
  await store.write(new TextEncoder().encode(stateText(i)));
  process.stdout.write(i + '\\n');
}`;

/** Runs the writer until it has confirmed `confirmations` writes, waits `delayMs` more, then SIGKILLs it; the last confirmed number. */
function runAndKill(dir: string, first: number, confirmations: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', WRITER, dir, Buffer.from(KEY).toString('hex'), String(first)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let confirmed = first - 1;
    let seen = 0;
    let stderr = '';
    let killing = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        confirmed = Number(line);
        seen++;
      }
      if (seen >= confirmations && !killing) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('exit', (status, signal) =>
      signal === 'SIGKILL' ? resolve(confirmed) : reject(new Error(`writer exited with ${status}: ${stderr}`)),
    );
  });
}

describe('fileStore under SIGKILL', () => {
  it('always leaves a state file that decrypts to a written state, at least the last confirmed one', async (t) => {
    const dir = await tempDir();
    let next = 1;
    let midWrite = 0;
    for (let round = 0; round < 8; round++) {
      const confirmations = 1 + Math.floor(Math.random() * 30);
      const delayMs = Math.floor(Math.random() * 15);
      const confirmed = await runAndKill(dir, next, confirmations, delayMs);
      const state = await fileStore({ dir, key: KEY }).read();
      assert.ok(state, `round ${round}: a state file exists`);
      const number = stateNumber(state);
      assert.ok(number !== undefined, `round ${round}: the file decrypts to one of the written states`);
      // Durable when write() resolved: the last confirmed state or the one after it (in flight when killed).
      assert.ok(
        number === confirmed || number === confirmed + 1,
        `round ${round}: state ${number}, last confirmed ${confirmed}`,
      );
      const leftovers = (await readdir(dir)).filter((name) => name !== 'state.sealed');
      assert.ok(
        leftovers.every((name) => name === 'state.sealed.tmp'),
        `only a .tmp may be left over: ${leftovers.join(', ')}`,
      );
      if (leftovers.length > 0 || number !== confirmed) midWrite++;
      next = number + 1;
    }
    t.diagnostic(`${midWrite} of 8 kills landed during a write (a .tmp left over, or a renamed but unconfirmed state)`);
  });
});
