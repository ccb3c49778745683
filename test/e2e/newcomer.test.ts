import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hex } from '../../src/lib/bytes.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { cloister, errorCode, startCoordinator, tempDir, type RunningCoordinator, runService } from './harness.js';
import { adminCert } from './users.js';

/** The newcomer's path: what a simulation coordinator cannot run is said early, and pins fail in words. */

const dir = tempDir('newcomer');
const simDir = join(dir, 'sim');
const pin = join(dir, 'pin.pem');
const node = resolveProgram('node');
let first: RunningCoordinator;
let second: RunningCoordinator;

const verify = (c: RunningCoordinator, ...extra: string[]) =>
  cloister(['verify', '--coordinator', c.client, '--simulation', '--sim-dir', simDir, '--json', ...extra]);
const hardware = {
  Packages: { app: { UniqueID: hex(measure(node)), TEE: 'sgx' } },
  Marbles: { app: { Package: 'app' } },
};

describe("a newcomer's path", () => {
  before(async () => {
    // One after the other: the first creates the simulated platform both use.
    first = await startCoordinator(join(dir, 'one'), simDir);
    second = await startCoordinator(join(dir, 'two'), simDir);
    writeFileSync(join(dir, 'hardware.json'), JSON.stringify(hardware));
  });
  after(async () => {
    await Promise.all([first.stop('SIGKILL'), second.stop('SIGKILL')]);
  });

  it('a package for hardware is warned of in simulation, and its refused activation says why', async () => {
    const plain = JSON.parse((await cloister(['manifest', 'check', join(dir, 'hardware.json'), '--json'])).stdout) as {
      warnings: string[];
    };
    assert.deepEqual(plain.warnings, []);
    const checked = JSON.parse(
      (await cloister(['manifest', 'check', join(dir, 'hardware.json'), '--simulation', '--json'])).stdout,
    ) as { warnings: string[] };
    assert.match(checked.warnings[0] ?? '', /Packages\.app\.TEE is "sgx".*"TEE": "sim"/);

    assert.equal((await verify(first, '--root-out', pin)).code, 0);
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'hardware.json'),
      '--coordinator',
      first.client,
      '--root',
      pin,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /warning: Packages\.app\.TEE is "sgx"/);
    const run = await runService(first, { simDir, root: pin, cwd: dir }, 'app', [node, '-e', '0']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ACTIVATION_REFUSED.*"TEE": "sim"/);
  });

  it('a different root is never pinned over the old one silently; --force replaces it', async () => {
    const before = readFileSync(pin, 'utf8');
    const other = await verify(second, '--root-out', pin);
    assert.equal(other.code, 1, other.stdout);
    assert.equal(errorCode(other), 'COORDINATOR_UNTRUSTED');
    assert.match(other.stdout, /different root is pinned.*--force/);
    assert.equal(readFileSync(pin, 'utf8'), before);
    // The old pin against the other coordinator: said in words, with where the pin is and how to re-pin.
    const status = await cloister(['status', '--coordinator', second.client, '--root', pin, '--json']);
    assert.equal(errorCode(status), 'COORDINATOR_UNTRUSTED');
    assert.match(status.stdout, /root pinned in .*pin\.pem.*cloister verify --coordinator .* --force/);
    assert.equal((await verify(second, '--root-out', pin, '--force')).code, 0);
    assert.notEqual(readFileSync(pin, 'utf8'), before);
  });

  it('--root given a private key, and --root-out into a missing folder, say so and create nothing', async () => {
    const { key } = await adminCert();
    writeFileSync(join(dir, 'key.pem'), key);
    const withKey = await cloister(['status', '--coordinator', first.client, '--root', join(dir, 'key.pem'), '--json']);
    assert.equal(withKey.code, 2);
    assert.match(withKey.stdout, /holds a private key/);
    const missing = join(dir, 'no', 'such', 'folder', 'root.pem');
    const r = await verify(first, '--root-out', missing);
    assert.equal(errorCode(r), 'IO');
    assert.equal(existsSync(join(dir, 'no')), false);
  });
});
