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
  // As in the image: all of cloister.
  const installed = await cloister(['launcher', 'install', '--all', bundle, '--json']);
  assert.equal(installed.code, 0, installed.stderr);
  const info = JSON.parse(installed.stdout) as { ok: boolean; libraries: string[] };
  assert.ok(info.libraries.includes('ld.so') && info.libraries.includes('libc.so.6'));
  assert.ok(
    existsSync(join(bundle, 'lib/ld.so')) &&
      existsSync(join(bundle, 'node')) &&
      existsSync(join(bundle, 'app/bin/cloister.js')),
  );
  assert.ok(existsSync(join(bundle, 'app/node_modules/@grpc/grpc-js')));

  const asRoot = process.getuid?.() === 0;
  let argv = launcherArgv(bundle);
  if (asRoot) {
    mkdirSync(join(dir, 'root/bin'), { recursive: true });
    cpSync(realpathSync('/bin/busybox'), join(dir, 'root/bin/busybox'));
    argv = [resolveProgram('chroot'), join(dir, 'root'), ...launcherArgv('/cloister')];
  }
  const help = execFileSync(argv[0] as string, [...argv.slice(1), 'run', '--help'], {
    encoding: 'utf8',
    env: { PATH: '/bin' },
  });
  assert.match(help, /Usage: cloister run/);

  // Run from the bundle (as the init container does), `launcher install` copies the bundle without
  // what only the Kubernetes commands use.
  const copy = join(dir, 'root', 'copy');
  const inner = asRoot
    ? [resolveProgram('chroot'), join(dir, 'root'), ...launcherArgv('/cloister'), 'launcher', 'install', '/copy']
    : [...argv, 'launcher', 'install', copy];
  execFileSync(inner[0] as string, inner.slice(1), { env: { PATH: '/bin' } });
  assert.deepEqual(readFileSync(join(copy, 'bundle.json')), readFileSync(join(bundle, 'bundle.json')));
  assert.ok(
    !existsSync(join(copy, 'app/node_modules/@kubernetes')) &&
      !existsSync(join(copy, 'app/node_modules/@grpc')) &&
      existsSync(join(copy, 'app/node_modules/commander')),
  );
  const slim = execFileSync(
    argv[0] as string,
    [...argv.slice(1).map((a) => a.replace(asRoot ? /^\/cloister/ : bundle, asRoot ? '/copy' : copy)), 'run', '--help'],
    { encoding: 'utf8', env: { PATH: '/bin' } },
  );
  assert.match(slim, /Usage: cloister run/);
  rmSync(dir, { recursive: true, force: true });
});
