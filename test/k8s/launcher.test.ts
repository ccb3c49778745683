import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launcherArgv } from '../../src/k8s/webhook/mutate.js';
import { resolveProgram } from '../../src/run/measure.js';
import { cloister, tempDir } from '../e2e/harness.js';

/**
 * The launcher bundle runs cloister in an image that has neither Node nor libc: a root with only
 * a static busybox, entered with chroot (as root; otherwise the bundle runs in place).
 */
test('the launcher bundle runs `cloister run --help` in a root that has only busybox, and copies itself', async () => {
  const dir = tempDir('launcher');
  const bundle = join(dir, 'root', 'cloister');
  const installed = await cloister(['launcher', 'install', bundle, '--json']);
  assert.equal(installed.code, 0, installed.stderr);
  const info = JSON.parse(installed.stdout) as { ok: boolean; libraries: string[] };
  assert.ok(info.libraries.includes('ld-linux-x86-64.so.2') || info.libraries.some((l) => l.startsWith('ld-')));
  assert.ok(existsSync(join(bundle, 'lib/ld.so')) && existsSync(join(bundle, 'node')) && existsSync(join(bundle, 'app/bin/cloister.js')));
  // The Kubernetes client and gRPC are not part of what `cloister run` needs.
  assert.ok(!existsSync(join(bundle, 'app/node_modules/@kubernetes')) && existsSync(join(bundle, 'app/node_modules/commander')));

  const asRoot = process.getuid?.() === 0;
  let argv = launcherArgv(bundle);
  if (asRoot) {
    mkdirSync(join(dir, 'root/bin'), { recursive: true });
    cpSync(realpathSync('/bin/busybox'), join(dir, 'root/bin/busybox'));
    argv = [resolveProgram('chroot'), join(dir, 'root'), ...launcherArgv('/cloister')];
  }
  const help = execFileSync(argv[0] as string, [...argv.slice(1), 'run', '--help'], { encoding: 'utf8', env: { PATH: '/bin' } });
  assert.match(help, /Usage: cloister run/);

  // Run from the bundle, `launcher install` copies the bundle itself.
  const copy = join(dir, 'root', 'copy');
  const inner = asRoot ? [resolveProgram('chroot'), join(dir, 'root'), ...launcherArgv('/cloister'), 'launcher', 'install', '/copy'] : [...argv, 'launcher', 'install', copy];
  execFileSync(inner[0] as string, inner.slice(1), { env: { PATH: '/bin' } });
  assert.deepEqual(readFileSync(join(copy, 'bundle.json')), readFileSync(join(bundle, 'bundle.json')));
  rmSync(dir, { recursive: true, force: true });
});
